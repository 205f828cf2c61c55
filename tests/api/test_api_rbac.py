"""Role x device group x operation (SPEC section 9), over HTTP: exactly what each caller may read
and write, listings that never show what is out of scope, and every refusal audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import (
    ADMIN,
    LiveApi,
    StartApi,
    assert_mde_error,
    body,
    unique,
    without_sightings,
)

CALLERS = [
    "global_admin",
    "security_admin",
    "analyst_a",
    "analyst_b",
    "read_only",
    "app_rw",
    "app_rw_all",
]
TARGETS = ["all_devices", "group_a", "group_b", "app_rw_own"]
ALL = frozenset(TARGETS)

# What each caller's listing shows, of the four indicators.
SEES: dict[str, frozenset[str]] = {
    "global_admin": ALL,
    "security_admin": ALL,
    "analyst_a": frozenset({"group_a"}),
    "analyst_b": frozenset({"group_b"}),
    "read_only": ALL,
    "app_rw": frozenset({"app_rw_own"}),
    "app_rw_all": ALL,
}

# Expected HTTP status per caller and operation. Columns of get/update/delete follow TARGETS
# (all_devices, group_a, group_b, app_rw_own); create is (all devices, scoped to group A).
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "global_admin": {
        "get": (200, 200, 200, 200),
        "update": (200, 200, 200, 200),
        "delete": (204, 204, 204, 204),
        "create": (200, 200),
    },
    "security_admin": {
        "get": (200, 200, 200, 200),
        "update": (200, 200, 200, 200),
        "delete": (204, 204, 204, 204),
        "create": (200, 200),
    },
    "analyst_a": {
        "get": (403, 200, 403, 403),
        "update": (403, 200, 403, 403),
        "delete": (403, 204, 403, 403),
        "create": (403, 200),
    },
    "analyst_b": {
        "get": (403, 403, 200, 403),
        "update": (403, 403, 200, 403),
        "delete": (403, 403, 204, 403),
        "create": (403, 403),
    },
    "read_only": {
        "get": (200, 200, 200, 200),
        "update": (403, 403, 403, 403),
        "delete": (403, 403, 403, 403),
        "create": (403, 403),
    },
    "app_rw": {
        "get": (403, 403, 403, 200),
        "update": (403, 403, 403, 200),
        "delete": (403, 403, 403, 204),
        "create": (200, 200),
    },
    "app_rw_all": {
        "get": (200, 200, 200, 200),
        "update": (200, 200, 200, 200),
        "delete": (204, 204, 204, 204),
        "create": (200, 200),
    },
}


@dataclass
class Caller:
    name: str  # user name, or the application's client id
    headers: dict[str, str]


@dataclass
class World:
    api: LiveApi
    group_a: str
    group_b: str
    callers: dict[str, Caller]


@pytest.fixture(scope="module")
def world(start_api: StartApi) -> World:
    api = start_api()
    group_a, group_b = api.group(), api.group()
    callers: dict[str, Caller] = {}
    for key, role, groups in [
        ("global_admin", Role.GLOBAL_ADMINISTRATOR, ()),
        ("security_admin", Role.SECURITY_ADMINISTRATOR, ()),
        ("analyst_a", Role.ANALYST, (group_a,)),
        ("analyst_b", Role.ANALYST, (group_b,)),
        ("read_only", Role.READ_ONLY, ()),
    ]:
        callers[key] = Caller(*api.user(role, groups))
    callers["app_rw"] = Caller(*api.app_with_id(AppRole.READ_WRITE))
    callers["app_rw_all"] = Caller(*api.app_with_id(AppRole.READ_WRITE_ALL))
    return World(api, group_a, group_b, callers)


@pytest.fixture
def targets(world: World) -> dict[str, dict[str, Any]]:
    """Four fresh indicators sharing a unique title: three by the global admin, one by app_rw."""
    api, title = world.api, unique("matrix")
    admin = world.callers["global_admin"].headers
    return {
        "all_devices": api.submit(admin, title=title),
        "group_a": api.submit(admin, title=title, rbacGroupNames=[world.group_a]),
        "group_b": api.submit(admin, title=title, rbacGroupNames=[world.group_b]),
        "app_rw_own": api.submit(world.callers["app_rw"].headers, title=title),
    }


def denials(world: World, actor: str) -> list[Any]:
    """The actor's "denied" audit entries, oldest first."""
    with world.api.instance.store.accounts() as tx:
        entries = tx.recent_audit(100_000)  # newest first
    return [e for e in reversed(entries) if e.action == "denied" and e.actor == actor]


def assert_denied_and_audited(world: World, response: Any, caller: Caller, before: int) -> None:
    assert_mde_error(response, 403, "Forbidden")
    assert len(denials(world, caller.name)) == before + 1


CASES = [
    pytest.param(caller, op, index, id=f"{caller}-{op}-{target}")
    for caller in CALLERS
    for op in ("get", "update", "delete")
    for index, target in enumerate(TARGETS)
]


@pytest.mark.parametrize(("caller_key", "op", "index"), CASES)
def test_read_and_write_existing(
    world: World, targets: dict[str, dict[str, Any]], caller_key: str, op: str, index: int
) -> None:
    api, caller = world.api, world.callers[caller_key]
    target = targets[TARGETS[index]]
    expected = EXPECTED[caller_key][op][index]
    before = len(denials(world, caller.name))
    path = f"/api/indicators/{target['id']}"
    if op == "get":
        response = api.http.get(path, headers=caller.headers)
    elif op == "update":
        sent = body(
            id=target["id"],
            indicatorValue=target["indicatorValue"],
            rbacGroupNames=target["rbacGroupNames"],
            title=target["title"] + " (updated)",
        )
        response = api.http.post("/api/indicators", json=sent, headers=caller.headers)
    else:
        response = api.http.delete(path, headers=caller.headers)
    assert response.status_code == expected, response.text

    after = api.instance.indicators.get(int(target["id"]), ADMIN)
    if expected == 403:
        assert_denied_and_audited(world, response, caller, before)
        audited = api.instance.indicators.history(int(target["id"]), ADMIN)
        assert audited[-1].action == "denied"
        assert audited[-1].actor == caller.name
        assert (after.fields.title, after.state.value) == (target["title"], "active")
        return
    assert len(denials(world, caller.name)) == before
    if op == "get":
        assert without_sightings(response.json()) == target
    elif op == "update":
        assert response.json()["id"] == target["id"]
        assert after.fields.title == target["title"] + " (updated)"
        assert after.last_updated_by == caller.name
    else:
        assert after.state.value == "deleted"


@pytest.mark.parametrize(
    ("caller_key", "scope_index"),
    [pytest.param(c, i, id=f"{c}-{s}") for c in CALLERS for i, s in enumerate(["all", "a"])],
)
def test_create(world: World, caller_key: str, scope_index: int) -> None:
    api, caller = world.api, world.callers[caller_key]
    expected = EXPECTED[caller_key]["create"][scope_index]
    groups = [world.group_a] if scope_index else []
    before = len(denials(world, caller.name))
    sent = body(rbacGroupNames=groups)
    response = api.http.post("/api/indicators", json=sent, headers=caller.headers)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert_denied_and_audited(world, response, caller, before)
        entry = denials(world, caller.name)[-1]
        assert entry.changes["indicatorValue"][1] == sent["indicatorValue"]
        check = api.http.get(
            "/api/indicators",
            params={"$filter": f"indicatorValue eq '{sent['indicatorValue']}'"},
            headers=world.callers["global_admin"].headers,
        )
        assert check.json()["value"] == []
    else:
        got = response.json()
        assert got["rbacGroupNames"] == groups
        assert got["createdBy"] == caller.name


@pytest.mark.parametrize("caller_key", CALLERS)
def test_listing_shows_exactly_what_is_in_scope(
    world: World, targets: dict[str, dict[str, Any]], caller_key: str
) -> None:
    api, caller = world.api, world.callers[caller_key]
    title = targets["all_devices"]["title"]
    before = len(denials(world, caller.name))
    for prefix in ("/api", "/api/v1.0"):
        response = api.http.get(
            f"{prefix}/indicators",
            params={"$filter": f"title eq '{title}'"},
            headers=caller.headers,
        )
        assert response.status_code == 200, response.text
        got = {row["id"] for row in response.json()["value"]}
        assert got == {targets[t]["id"] for t in SEES[caller_key]}
    # the whole listing, paged, never shows anything outside the caller's scope
    rows: list[dict[str, Any]] = []
    link: str | None = "/api/indicators?$top=25&$count=true"
    while link:
        page = api.http.get(link, headers=caller.headers).json()
        rows.extend(page["value"])
        link = page.get("@odata.nextLink")
    assert page["@odata.count"] == len(rows), "@odata.count is the total, on the last page too"
    for row in rows:
        groups = set(row["rbacGroupNames"])
        if caller_key == "analyst_a":
            assert groups
            assert groups <= {world.group_a}
        elif caller_key == "analyst_b":
            assert groups
            assert groups <= {world.group_b}
        elif caller_key == "app_rw":
            assert row["createdBy"] == caller.name
    # an analyst filtering on another group's name still sees nothing of it
    if caller_key.startswith("analyst"):
        other = world.group_b if caller_key == "analyst_a" else world.group_a
        response = api.http.get(
            "/api/indicators",
            params={"$filter": f"rbacGroupNames/any(g: g eq '{other}')"},
            headers=caller.headers,
        )
        assert response.json()["value"] == []
    assert len(denials(world, caller.name)) == before  # listing filters, it does not refuse


def test_analyst_cannot_widen_or_move_scope(world: World, targets: dict) -> None:
    api, analyst = world.api, world.callers["analyst_a"]
    own = targets["group_a"]
    for groups in ([world.group_a, world.group_b], [world.group_b], []):
        before = len(denials(world, analyst.name))
        sent = body(id=own["id"], indicatorValue=own["indicatorValue"], rbacGroupNames=groups)
        response = api.http.post("/api/indicators", json=sent, headers=analyst.headers)
        assert_denied_and_audited(world, response, analyst, before)
    stored = api.instance.indicators.get(int(own["id"]), ADMIN)
    assert stored.fields.rbac_group_names == (world.group_a,)


def test_batch_delete_with_one_id_out_of_scope_deletes_nothing(world: World, targets: dict) -> None:
    api, analyst = world.api, world.callers["analyst_a"]
    mine = world.api.submit(analyst.headers, rbacGroupNames=[world.group_a])
    before = len(denials(world, analyst.name))
    ids = [mine["id"], targets["group_a"]["id"], targets["group_b"]["id"]]
    response = api.http.post(
        "/api/indicators/BatchDelete", json={"IndicatorIds": ids}, headers=analyst.headers
    )
    assert_denied_and_audited(world, response, analyst, before)
    for indicator_id in ids:
        assert api.instance.indicators.get(int(indicator_id), ADMIN).state.value == "active"


def test_import_denies_out_of_scope_items_alone(world: World) -> None:
    api, analyst = world.api, world.callers["analyst_a"]
    before = len(denials(world, analyst.name))
    items = [
        body(rbacGroupNames=[world.group_a]),
        body(rbacGroupNames=[world.group_b]),
        body(),
    ]
    response = api.http.post(
        "/api/indicators/import", json={"Indicators": items}, headers=analyst.headers
    )
    assert response.status_code == 200, response.text
    assert [v["isFailed"] for v in response.json()["value"]] == [False, True, True]
    assert len(denials(world, analyst.name)) == before + 2
