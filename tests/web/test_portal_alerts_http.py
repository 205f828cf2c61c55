"""The alerts queue and the alert page over HTTP: filters, sorting, paging, triage forms under
CSRF, and roles and device groups (analysts see their groups only, read-only changes nothing)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from iocd.domain.alerts import AlertStatus
from iocd.domain.principal import Role
from iocd.domain.types import Severity
from tests.alert_factories import make_alert
from tests.web.entity_support import World, build_world
from tests.web.portal_support import LivePortal, csrf_of, start_portal

ROW = re.compile(r'<a href="/alerts/(\d+)">')


@pytest.fixture(scope="module")
def shared_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    """A server of this module's own: building the world moves its clock."""
    live = start_portal(tmp_path_factory.mktemp("portal"))
    live.user(name="admin")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def world(shared_portal: LivePortal) -> World:
    return build_world(shared_portal)


def _client(
    portal: LivePortal, role: Role = Role.SECURITY_ADMINISTRATOR, groups: tuple[str, ...] = ()
) -> httpx.Client:
    name, _ = portal.user(role, groups=groups)
    client = portal.client()
    portal.sign_in(client, name)
    return client


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    table = response.text.split('id="alerts-table"', 1)[1]
    return [int(n) for n in ROW.findall(table)]


def _seed(portal: LivePortal, group: str, count: int) -> list[int]:
    now = portal.clock.now()
    severities = [Severity.LOW, Severity.HIGH, Severity.INFORMATIONAL, Severity.MEDIUM]
    with portal.instance.store.alerts() as tx:
        first = tx.allocate_ids(count)
        tx.insert(
            [
                make_alert(
                    first + n,
                    rbac_group_name=group,
                    machine_id=f"{group}-dev",
                    computer_dns_name=f"{group}-dev",
                    severity=severities[n % 4],
                    last_event_time=now - timedelta(minutes=n),
                    created_at=now - timedelta(minutes=n),
                    status=AlertStatus.RESOLVED if n % 5 == 4 else AlertStatus.NEW,
                )
                for n in range(count)
            ]
        )
    return list(range(first, first + count))


def test_queue_filters_sorting_and_paging(shared_portal: LivePortal) -> None:
    group = "Queue " + re.sub(r"\W", "", str(id(shared_portal)))[-6:]
    ids = _seed(shared_portal, group, 60)
    client = _client(shared_portal)
    base = f"/alerts?device={group}-dev&status=any"
    first = _ids(client.get(base + "&size=25"))
    assert first == ids[:25]  # newest last event first
    second = client.get(base + "&size=25&sort=time&dir=desc&offset=25")
    assert _ids(second) == ids[25:50]
    assert 'rel="prev"' in second.text and 'rel="next"' in second.text
    assert _ids(client.get(base + "&size=25&sort=time&dir=desc&offset=50")) == ids[50:]
    open_only = _ids(client.get(f"/alerts?device={group}-dev&size=100"))
    assert len(open_only) == 48  # every fifth is resolved
    high = _ids(client.get(base + "&severity=High&size=100"))
    assert high == [i for n, i in enumerate(ids) if n % 4 == 1]
    by_severity = _ids(client.get(base + "&sort=severity&dir=desc&size=25"))
    assert by_severity[:15] == [i for n, i in enumerate(ids) if n % 4 == 1]
    assert by_severity[15:] == [i for n, i in enumerate(ids) if n % 4 == 3][:10]
    tail = _ids(client.get(base + "&sort=severity&dir=desc&size=25&offset=50"))
    assert tail == [i for n, i in enumerate(ids) if n % 4 == 2][5:]
    assert _ids(client.get(base + "&indicator=999999999&size=25")) == []
    recent = _ids(client.get(base + "&since=24h&size=100"))
    assert len(recent) == 60


def test_alert_page_triage_forms(shared_portal: LivePortal, world: World) -> None:
    client = _client(shared_portal)
    alert_id = _ids(client.get(f"/alerts?device={world.device_a}"))[0]
    page = client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200
    assert f'href="/devices/{world.device_a}"' in page.text
    assert "precedence trace" in page.text and "/indicators/" in page.text
    token = csrf_of(page)
    answer = client.post(
        f"/alerts/{alert_id}",
        data={
            "csrf_token": token,
            "status": "InProgress",
            "classification": "TruePositive",
            "determination": "Malware",
            "assigned_to": "pat",
        },
    )
    assert answer.status_code == 303
    alert = shared_portal.instance.store
    with alert.alerts(readonly=True) as tx:
        stored = tx.get(alert_id)
    assert stored is not None and stored.status is AlertStatus.IN_PROGRESS
    assert stored.assigned_to == "pat" and stored.classification is not None
    assert (
        client.post(
            f"/alerts/{alert_id}/comments", data={"csrf_token": token, "text": "looked"}
        ).status_code
        == 303
    )
    assert client.post(f"/alerts/{alert_id}/assign", data={"csrf_token": token}).status_code == 303
    assert client.post(f"/alerts/{alert_id}/resolve", data={"csrf_token": token}).status_code == 303
    page = client.get(f"/alerts/{alert_id}").text
    assert "looked" in page and "Resolved" in page
    bad = client.post(f"/alerts/{alert_id}", data={"csrf_token": token, "status": "Nope"})
    assert bad.status_code == 303
    assert "error" in client.get(bad.headers["location"]).text
    assert client.post(f"/alerts/{alert_id}", data={"status": "New"}).status_code == 403


def test_roles_and_groups(shared_portal: LivePortal, world: World) -> None:
    admin = _client(shared_portal)
    in_a = _ids(admin.get(f"/alerts?device={world.device_a}"))[0]
    in_b = _ids(admin.get(f"/alerts?device={world.device_b}"))[0]
    analyst = _client(shared_portal, Role.ANALYST, groups=(world.group_a,))
    assert analyst.get(f"/alerts/{in_a}").status_code == 200
    assert analyst.get(f"/alerts/{in_b}").status_code == 403
    assert in_b not in _ids(analyst.get("/alerts?status=any&size=200"))
    token = csrf_of(analyst.get(f"/alerts/{in_a}"))
    refused = analyst.post(f"/alerts/{in_b}/comments", data={"csrf_token": token, "text": "x"})
    assert refused.status_code == 403
    reader = _client(shared_portal, Role.READ_ONLY)
    page = reader.get(f"/alerts/{in_a}")
    assert page.status_code == 200 and "read-only access" in page.text
    token = csrf_of(page)
    assert reader.post(f"/alerts/{in_a}/assign", data={"csrf_token": token}).status_code == 403
    assert admin.get("/alerts/999999999").status_code == 404
