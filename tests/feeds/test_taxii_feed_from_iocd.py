"""A TAXII feed pulling the Block collection of another iocd's TAXII server (/taxii2/), with
HTTP Basic (client id and secret): what a team pointing iocd at a partner's iocd, or at any TAXII
2.1 server, does. The first run takes the collection; the next asks only for what was added
after it; a deleted indicator comes back revoked and is withdrawn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iocd.api.app import create_app
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import AppRole
from iocd.domain.drafts import build_fields
from iocd.domain.feeds import FeedKind, RunOutcome
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action, IndicatorType
from iocd.services.taxii_collections import COLLECTIONS
from tests.api.api_support import LiveServer
from tests.feeds.feed_support import active_values, add_feed, run

PARTNER = Principal("partner-admin", Role.GLOBAL_ADMINISTRATOR, "Cli")
SECRET_ENV = "IOCD_TEST_PARTNER_SECRET"
BLOCK = next(c.id for c in COLLECTIONS if c.alias == "block")


class Partner:
    """Another iocd, serving its list over TAXII."""

    def __init__(self, data_dir: Path) -> None:
        self.instance = build(Settings(data_dir=data_dir, database_url="memory://"))
        self.server = LiveServer(create_app(self.instance.settings, self.instance))
        self.server.start()

    def add(self, value: str, action: Action = Action.BLOCK) -> int:
        fields = build_fields(
            indicator_type=IndicatorType.IP_ADDRESS,
            value=value,
            action=action,
            title=f"partner {value}",
            description="shared over TAXII",
        )
        result = self.instance.indicators.submit(IndicatorDraft(fields), PARTNER)
        assert result.indicator is not None
        return result.indicator.id


@pytest.fixture
def partner(tmp_path: Path) -> Iterator[Partner]:
    server = Partner(tmp_path / "partner")
    yield server
    server.server.stop()


def follow(instance: Instance, partner: Partner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Add the feed "partner" on the partner's Block collection, as a reader application
    whose secret is in SECRET_ENV."""
    app, secret = partner.instance.accounts.register_application(
        "reader", AppRole.READ_WRITE_ALL, PARTNER
    )
    monkeypatch.setenv(SECRET_ENV, secret)
    add_feed(
        instance,
        "partner",
        f"{partner.server.base_url}/taxii2/api/",
        FeedKind.TAXII,
        collection=BLOCK,
        username=app.client_id,
        password_env=SECRET_ENV,
    )


def test_a_feed_pulls_another_iocds_block_collection(
    instance: Instance, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = partner.add("45.9.10.1")
    partner.add("45.9.10.2")
    partner.add("45.9.10.3", Action.AUDIT)  # another collection
    follow(instance, partner, monkeypatch)

    taken = run(instance, "partner")
    assert taken.outcome is RunOutcome.OK, taken.error
    assert active_values(instance, "Feed:partner") == {"45.9.10.1", "45.9.10.2"}

    assert run(instance, "partner").outcome is RunOutcome.NOT_MODIFIED  # added_after

    partner.add("45.9.10.4")
    partner.instance.indicators.delete(first, PARTNER)
    changed = run(instance, "partner")
    assert changed.outcome is RunOutcome.OK, changed.error
    assert (changed.added, changed.withdrawn) == (1, 1)
    assert active_values(instance, "Feed:partner") == {"45.9.10.2", "45.9.10.4"}


def test_wrong_credentials_fail_the_run_and_keep_the_state(
    instance: Instance, partner: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner.add("45.9.11.1")
    follow(instance, partner, monkeypatch)
    assert run(instance, "partner").outcome is RunOutcome.OK
    monkeypatch.setenv(SECRET_ENV, "not the secret")
    failed = run(instance, "partner", full=True)
    assert failed.outcome is RunOutcome.FAILED
    assert "401" in (failed.error or "")
    assert active_values(instance, "Feed:partner") == {"45.9.11.1"}
