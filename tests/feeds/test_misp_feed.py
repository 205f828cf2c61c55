"""MISP feeds: a folder (and the same over HTTP) with manifest.json and one file per event;
only events whose timestamp changed are fetched; an event that leaves takes its values away."""

from __future__ import annotations

import json
from pathlib import Path

from iocd.compose import Instance
from iocd.domain.feeds import FeedKind, RunOutcome
from tests.feeds.conftest import MISP_EVENTS
from tests.feeds.feed_server import FeedServer
from tests.feeds.feed_support import active_values, add_feed, misp_folder, run

EVENTS = ["misp_event", "existing_event", "to_delete2"]


def test_misp_feed_over_http_fetches_changed_events_only(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    manifest = misp_folder(site / "misp", MISP_EVENTS, EVENTS)
    add_feed(instance, "circl", server.url("misp"), FeedKind.MISP, action="Audit")
    first = run(instance, "circl")
    assert first.outcome is RunOutcome.OK and first.full, first.error
    assert first.added > 50
    assert any("to_ids is off" in reason for _, reason in first.skip_reasons)
    owned = active_values(instance, "Feed:circl")
    assert 0 < len(owned) <= first.added  # an attribute repeated across events counts twice

    assert run(instance, "circl").outcome is RunOutcome.NOT_MODIFIED
    asked = len(server.behaviour.requests)

    # one event changes (new timestamp, one attribute dropped); one event leaves the feed
    changed = "5a0d5bf4-99c8-4f15-9879-22b1950d210f"  # to_delete2
    document = json.loads((site / "misp" / f"{changed}.json").read_text())
    event = document.get("Event", document)
    dropped = next(a for a in event["Attribute"] if a.get("to_ids") and a["value"].lower() in owned)
    event["Attribute"].remove(dropped)
    event["timestamp"] = str(int(event["timestamp"]) + 60)
    (site / "misp" / f"{changed}.json").write_text(json.dumps(document))
    manifest[changed]["timestamp"] = event["timestamp"]
    leaving = "5758ebf5-c898-48e6-9fe9-5665c0a83866"  # misp_event
    del manifest[leaving]
    (site / "misp" / "manifest.json").write_text(json.dumps(manifest))

    second = run(instance, "circl")
    assert second.outcome is RunOutcome.OK and not second.full, second.error
    fetched_paths = [r["path"] for r in server.behaviour.requests[asked:]]
    assert fetched_paths == ["/misp/manifest.json", f"/misp/{changed}.json"]
    assert second.withdrawn >= 1
    assert dropped["value"].lower() not in active_values(instance, "Feed:circl")


def test_misp_feed_folder_and_malformed_event(instance: Instance, tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    manifest = misp_folder(folder, MISP_EVENTS, ["existing_event"])
    add_feed(instance, "local-misp", str(folder), FeedKind.MISP, action="Audit")
    first = run(instance, "local-misp")
    assert first.outcome is RunOutcome.OK and first.added > 0
    before = active_values(instance, "Feed:local-misp")

    uuid = next(iter(manifest))
    (folder / f"{uuid}.json").write_text('{"Event": {"Attribute": [')
    manifest[uuid]["timestamp"] = "1999999999"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    failed = run(instance, "local-misp")
    assert failed.outcome is RunOutcome.FAILED
    assert f"event {uuid}" in (failed.error or "") and "not valid JSON" in (failed.error or "")
    assert active_values(instance, "Feed:local-misp") == before

    (folder / "manifest.json").write_text("[1, 2")
    failed = run(instance, "local-misp")
    assert failed.outcome is RunOutcome.FAILED and "manifest.json" in (failed.error or "")
