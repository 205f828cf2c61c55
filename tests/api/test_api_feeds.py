"""/api/feeds over HTTP: add (administrators only), list, run, history, remove."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import LiveApi, assert_mde_error, unique


def test_feeds_api(api: LiveApi, headers: Any, tmp_path: Path) -> None:
    feed = tmp_path / "list.txt"
    feed.write_text("45.3.0.1\n45.3.0.2\n")
    name = unique("feed")
    body = {
        "name": name,
        "kind": "list",
        "url": str(feed),
        "action": "Block",
        "severity": "High",
        "expiresDays": 7,
        "intervalSeconds": 600,
    }
    created = api.http.post("/api/feeds", json=body, headers=headers)
    assert created.status_code == 200, created.text
    assert created.json()["owner"] == f"Feed:{name}" and created.json()["expiresDays"] == 7
    assert_mde_error(api.http.post("/api/feeds", json=body, headers=headers), 409)
    assert_mde_error(
        api.http.post(
            "/api/feeds", json={**body, "name": unique(), "kind": "rss"}, headers=headers
        ),
        400,
        "InvalidInput",
    )
    _, reader = api.user(Role.READ_ONLY)
    assert_mde_error(
        api.http.post("/api/feeds", json={**body, "name": unique()}, headers=reader), 403
    )
    own_only = api.app_headers(AppRole.READ_WRITE)
    assert_mde_error(api.http.post(f"/api/feeds/{name}/run", headers=own_only), 403)

    ran = api.http.post(f"/api/feeds/{name}/run", headers=headers)
    assert ran.status_code == 200, ran.text
    assert (ran.json()["outcome"], ran.json()["added"]) == ("ok", 2)
    listed = api.http.get("/api/feeds", headers=reader).json()["value"]
    mine = next(f for f in listed if f["name"] == name)
    assert mine["lastRun"]["added"] == 2
    runs = api.http.get(f"/api/feeds/{name}/runs", params={"$top": 5}, headers=headers)
    assert [r["outcome"] for r in runs.json()["value"]] == ["ok"]
    assert api.http.get(f"/api/feeds/{name}", headers=headers).json()["lastRun"]["added"] == 2
    assert_mde_error(api.http.get("/api/feeds/nope", headers=headers), 404)
    gone = api.http.delete(f"/api/feeds/{name}", params={"withdraw": "true"}, headers=headers)
    assert gone.status_code == 204
    assert_mde_error(api.http.get(f"/api/feeds/{name}", headers=headers), 404)
