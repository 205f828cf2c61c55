"""The dashboard's agents section: administrators see each enrolled agent's applied policy
version beside the current one; other roles only the current version."""

from __future__ import annotations

from iocd.domain.agents import DeviceReport
from iocd.domain.principal import Principal, Role
from iocd.services.agents import AgentStatus
from tests.web.portal_support import LivePortal

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")


def test_agents_and_their_applied_versions(fresh_portal: LivePortal) -> None:
    portal = fresh_portal
    admin, _ = portal.user(Role.GLOBAL_ADMINISTRATOR)
    reader, _ = portal.user(Role.READ_ONLY)
    agents = portal.instance.agents
    _, token = agents.create_enrollment_token(ADMIN, uses=2)
    behind, _ = agents.enroll(token, DeviceReport("lt-behind", "Linux"))
    current, _ = agents.enroll(token, DeviceReport("lt-current", "Linux"))
    sequence = portal.instance.indicators.last_sequence()
    agents.report_status(
        current, DeviceReport("lt-current", "Linux"), AgentStatus(applied_sequence=sequence)
    )

    client = portal.client()
    portal.sign_in(client, admin)
    page = client.get("/").text
    assert "2 agents enrolled" in page
    assert "lt-behind" in page
    assert "lt-current" in page
    assert page.index("lt-behind") < page.index("lt-current")  # furthest behind first

    other = portal.client()
    portal.sign_in(other, reader)
    shown = other.get("/").text
    assert "lt-behind" not in shown
    assert "shown to" in shown
    assert behind.applied_sequence is None
