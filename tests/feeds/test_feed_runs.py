"""Feed runs end to end through the service: list and CSV feeds over HTTP, conditional requests,
diffs, withdrawal, ownership, caps, and the previous good state kept on bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance
from iocd.domain.drafts import build_fields
from iocd.domain.feeds import FeedKind, RunOutcome
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.errors import Conflict, Forbidden
from tests.feeds.feed_server import FeedServer
from tests.feeds.feed_support import (
    ADMIN,
    ANALYST,
    active_values,
    add_feed,
    ips,
    run,
    write_list,
)


def test_first_run_imports_then_304_then_diff(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    values = ips(0, 300)
    write_list(site / "list.txt", [*values, "not a value!!", "8.8.8.8 # resolver", ""])
    add_feed(instance, "block", server.url("list.txt"))

    first = run(instance, "block")
    assert first.outcome is RunOutcome.OK and first.full
    assert (first.fetched, first.added, first.withdrawn) == (302, 300, 0)
    assert first.skipped == 2
    reasons = dict(first.skip_reasons)
    assert "needs at least two labels" in reasons["not a value!!"]
    assert "guardrail" in reasons["8.8.8.8"]
    assert active_values(instance, "Feed:block") == set(values)
    indicator = next(iter(instance.store.iterate(_all(), instance.clock.now())))
    assert indicator.created_by == indicator.created_by_source == "Feed:block"
    assert indicator.fields.expiration_time == instance.clock.now() + timedelta(days=30)

    again = run(instance, "block")
    assert again.outcome is RunOutcome.NOT_MODIFIED
    assert server.behaviour.requests[-1].get("If-None-Match", "").startswith('"')

    write_list(site / "list.txt", [*values[10:], *ips(1000, 5)])
    diffed = run(instance, "block")
    assert diffed.outcome is RunOutcome.OK and not diffed.full
    assert (diffed.added, diffed.withdrawn, diffed.unchanged) == (5, 10, 290)
    assert active_values(instance, "Feed:block") == set(values[10:]) | set(ips(1000, 5))
    history = instance.feeds.history(ADMIN, "block")
    assert [r.outcome for r in history] == [RunOutcome.OK, RunOutcome.NOT_MODIFIED, RunOutcome.OK]


def test_withdrawal_is_audited_with_its_reason(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    write_list(site / "list.txt", ips(0, 3))
    add_feed(instance, "w", server.url("list.txt"))
    run(instance, "w")
    write_list(site / "list.txt", ips(0, 2))
    assert run(instance, "w").withdrawn == 1
    gone = next(
        i
        for i in instance.store.iterate(_all(inactive=True), instance.clock.now())
        if i.fields.value == ips(2, 1)[0]
    )
    with instance.store.transaction(readonly=True) as tx:
        audit = tx.audit_for(gone.id)
    assert audit[-1].action == "deleted"
    assert audit[-1].changes["reason"] == "withdrawn: no longer in feed w"
    assert audit[-1].door == "Feed:w"


def test_a_feed_never_changes_what_a_person_or_another_feed_owns(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    mine, theirs, persons = ips(0, 2), ips(10, 2), ips(20, 1)
    fields = build_fields(
        indicator_type="IpAddress",
        value=persons[0],
        action="Allowed",
        title="ours",
        description="kept by a person",
    )
    person = instance.indicators.submit(IndicatorDraft(fields), ADMIN.via("Portal"))
    write_list(site / "other.txt", theirs)
    add_feed(instance, "other", server.url("other.txt"), action="Audit")
    run(instance, "other")

    write_list(site / "mine.txt", [*mine, *theirs, *persons])
    add_feed(instance, "mine", server.url("mine.txt"))
    result = run(instance, "mine")
    assert result.added == 2 and result.skipped == 3
    reasons = dict(result.skip_reasons)
    assert reasons[theirs[0]].startswith("owned by Feed:other")
    assert reasons[persons[0]].startswith("owned by root via Portal")
    stored = instance.indicators.get(person.indicator.id, ADMIN)
    assert stored.fields.action.value == "Allowed" and stored.is_active(instance.clock.now())

    write_list(site / "mine.txt", [])
    write_list(site / "mine.txt", mine[:1])
    result = run(instance, "mine")
    assert result.withdrawn == 1
    assert active_values(instance, "Feed:other") == set(theirs)
    assert persons[0] in active_values(instance)


@pytest.mark.parametrize("mode", ["error", "hang", "truncate"])
def test_a_failing_source_keeps_the_previous_good_state(
    instance: Instance, server: FeedServer, site: Path, mode: str
) -> None:
    from iocd.feeds import http

    write_list(site / "list.txt", ips(0, 50))
    add_feed(instance, "flaky", server.url("list.txt"))
    instance.feeds._sources._limits = http.FetchLimits(read_timeout=1.0)  # type: ignore[attr-defined]
    assert run(instance, "flaky").added == 50
    write_list(site / "list.txt", ips(100, 5))
    server.behaviour.mode = mode
    failed = run(instance, "flaky")
    assert failed.outcome is RunOutcome.FAILED
    expected = {"error": "answered 500", "hang": "timed out", "truncate": "flaky"}[mode]
    assert failed.error is not None
    assert expected in failed.error or mode == "truncate", failed.error
    assert (failed.added, failed.withdrawn) == (0, 0)
    assert active_values(instance, "Feed:flaky") == set(ips(0, 50))
    server.behaviour.mode = "normal"
    healed = run(instance, "flaky")
    assert (healed.added, healed.withdrawn) == (5, 50)


def test_a_feed_that_suddenly_gives_nothing_usable_fails(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    write_list(site / "list.txt", ips(0, 20))
    add_feed(instance, "html", server.url("list.txt"))
    run(instance, "html")
    (site / "list.txt").write_text("<html><body>Service unavailable</body></html>\n")
    failed = run(instance, "html")
    assert failed.outcome is RunOutcome.FAILED and "no usable indicator" in (failed.error or "")
    assert len(active_values(instance, "Feed:html")) == 20


def test_csv_feed_by_header_name_with_a_cap(
    instance: Instance, server: FeedServer, site: Path
) -> None:
    rows = [
        "# exported",
        "id;url;threat",
        *[f"{n};http://bad{n}.example.net/x;malware" for n in range(10)],
    ]
    (site / "urls.csv").write_text("\n".join(rows) + "\n")
    add_feed(
        instance, "urls", server.url("urls.csv"), FeedKind.CSV, column="url", delimiter=";", cap=4
    )
    result = run(instance, "urls")
    assert (result.fetched, result.added, result.skipped) == (10, 4, 6)
    assert "past the cap of 4" in result.skip_reasons[0][1]
    assert active_values(instance, "Feed:urls") == {
        f"http://bad{n}.example.net/x" for n in range(4)
    }
    (site / "urls.csv").write_text("\n".join(["id;link", "1;http://x.example.net/"]) + "\n")
    failed = run(instance, "urls")
    assert failed.outcome is RunOutcome.FAILED and "no column 'url'" in (failed.error or "")


def test_a_full_pass_reconciles_against_the_store(
    instance: Instance, server: FeedServer, site: Path, clock: FixedClock
) -> None:
    write_list(site / "list.txt", ips(0, 10))
    add_feed(instance, "full", server.url("list.txt"), expires_days=10)
    run(instance, "full")
    clock.advance(timedelta(days=6))  # past half the expiry: the next run is a full pass
    write_list(site / "list.txt", ips(0, 8))
    result = run(instance, "full")
    assert result.full and (result.updated, result.withdrawn) == (8, 2)
    first = next(i for i in instance.store.iterate(_all(), clock.now()) if i.is_active(clock.now()))
    assert first.fields.expiration_time == clock.now() + timedelta(days=10)


def test_only_administrators_manage_feeds(instance: Instance, site: Path) -> None:
    write_list(site / "list.txt", ips(0, 1))
    reader = Principal("r", Role.READ_ONLY, "Portal")
    with pytest.raises(Forbidden):
        add_feed_as(instance, ANALYST, str(site / "list.txt"))
    add_feed(instance, "local", str(site / "list.txt"))
    with pytest.raises(Forbidden):
        instance.feeds.run(reader, "local")
    with pytest.raises(Conflict):
        add_feed(instance, "local", str(site / "list.txt"))
    assert [f.name for f, _ in instance.feeds.list(reader)] == ["local"]
    assert run(instance, "local").added == 1
    assert instance.feeds.remove(ADMIN, "local", withdraw=True) == 1
    assert instance.feeds.list(ADMIN) == []


def add_feed_as(instance: Instance, principal: Principal, url: str) -> None:
    from iocd.domain.feeds import FeedOptions, NewFeed, make_defaults

    instance.feeds.add(
        principal,
        NewFeed(
            "x", FeedKind.LIST, url, FeedOptions(), make_defaults("Audit", None, None, ["lab"])
        ),
    )


def test_runs_of_one_feed_never_overlap(instance: Instance, site: Path, clock: FixedClock) -> None:
    write_list(site / "list.txt", ips(0, 1))
    add_feed(instance, "busy", str(site / "list.txt"))
    feed = instance.feeds.get(ADMIN, "busy")
    store = instance.feeds._feeds  # type: ignore[attr-defined]
    now = instance.clock.now()
    assert store.claim(feed.id, "someone-else", now, now - timedelta(hours=1))
    with pytest.raises(Conflict):
        run(instance, "busy")
    assert instance.feeds.run_due() == 0
    store.release(feed.id, "someone-else")
    assert instance.feeds.run_due() == 0  # attempted just now (by the other claimant)
    clock.advance(timedelta(seconds=300))
    assert instance.feeds.run_due() == 1
    assert instance.feeds.run_due() == 0  # not due again before its interval


def _all(inactive: bool = False):  # type: ignore[no-untyped-def]
    from iocd.domain.query import IndicatorQuery

    return IndicatorQuery(include_inactive=inactive)


def test_state_survives_as_json(instance: Instance, site: Path) -> None:
    write_list(site / "list.txt", ips(0, 2))
    add_feed(instance, "s", str(site / "list.txt"))
    run(instance, "s")
    feed = instance.feeds.get(ADMIN, "s")
    assert feed.state.snapshot and feed.state.usable == 2 and feed.state.full_pass_at
    assert json.dumps(feed.state.event_timestamps) == "{}"
