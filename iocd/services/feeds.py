"""The feed use cases: add, list, remove, enable, run (now or when due), run history.

Reading feeds is open to every signed-in role; adding, removing, enabling and running need a
global or security administrator (an organisation-wide application counts as the latter).
Runs of one feed never overlap: a run claims the feed in the store first (services.ports.
FeedStore.claim), whichever process it runs in. Each run is recorded, failed ones included.
"""

from __future__ import annotations

import builtins
import logging
import threading
import uuid
from datetime import timedelta

from iocd.clock import Clock
from iocd.domain.feeds import (
    Feed,
    FeedRun,
    FeedUnavailable,
    NewFeed,
    RunOutcome,
    check_feed_name,
    check_numbers,
    check_options,
    check_url,
)
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, Role
from iocd.domain.query import Compare, IndicatorQuery, Op
from iocd.errors import Conflict, Forbidden, IocdError, NotFound
from iocd.services.feed_ports import FeedPull, FeedSource, FeedStore
from iocd.services.feed_runs import FeedApplier, Interrupted, Tally
from iocd.services.feed_withdrawal import Withdrawal
from iocd.services.indicators import IndicatorService
from iocd.services.ports import Notifier, Store

log = logging.getLogger("iocd.feeds")
CLAIM_STALE = timedelta(hours=1)
"""A claim not renewed for this long (a crashed process) is taken over; a running feed renews
its claim after every chunk it submits."""
FEED_ADMINS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.SECURITY_ADMINISTRATOR})


def check_feed_admin(principal: Principal) -> None:
    if principal.role not in FEED_ADMINS or principal.own_only or principal.telemetry_only:
        raise Forbidden(
            f"{principal.label} may not manage feeds: that needs a global or security administrator"
        )


class FeedService:
    def __init__(
        self,
        feeds: FeedStore,
        sources: FeedSource,
        indicators: IndicatorService,
        store: Store,
        clock: Clock,
        notifier: Notifier | None = None,
        chunk_size: int = 5_000,
    ) -> None:
        self._feeds = feeds
        self._sources = sources
        self._indicators = indicators
        self._store = store
        self._clock = clock
        self._withdrawal = Withdrawal(store, clock, notifier)
        self._chunk_size = chunk_size

    # -- configuration ----------------------------------------------------------------------

    def add(self, principal: Principal, new: NewFeed) -> Feed:
        check_feed_admin(principal)
        name = check_feed_name(new.name)
        check_numbers(new.cap, new.interval_seconds, new.defaults.expires_days)
        feed = Feed(
            id=0,
            name=name,
            kind=new.kind,
            url=check_url(new.kind, new.url),
            options=check_options(new.kind, new.options),
            defaults=new.defaults,
            cap=new.cap,
            interval_seconds=new.interval_seconds,
            enabled=new.enabled,
            created_at=self._clock.now(),
            created_by=principal.name,
        )
        created = self._feeds.create_feed(feed)
        self._audit(principal, "feed-added", created, {"url": created.url})
        return created

    def list(self, principal: Principal) -> list[tuple[Feed, FeedRun | None]]:
        del principal  # every signed-in role may read feeds
        last = self._feeds.last_runs()
        return [(feed, last.get(feed.id)) for feed in self._feeds.list_feeds()]

    def get(self, principal: Principal, name: str) -> Feed:
        del principal
        feed = self._feeds.get_feed(name)
        if feed is None:
            raise NotFound(f"feed {name!r} does not exist")
        return feed

    def history(self, principal: Principal, name: str, limit: int = 50) -> builtins.list[FeedRun]:
        feed = self.get(principal, name)
        return self._feeds.runs(feed.id, max(1, min(limit, 1000)))

    def set_enabled(self, principal: Principal, name: str, enabled: bool) -> Feed:
        check_feed_admin(principal)
        feed = self.get(principal, name)
        self._feeds.set_enabled(feed.id, enabled)
        self._audit(principal, "feed-enabled" if enabled else "feed-disabled", feed, {})
        return self.get(principal, name)

    def remove(self, principal: Principal, name: str, *, withdraw: bool = False) -> int:
        """Remove the feed and its history; with `withdraw`, withdraw every indicator it owns
        first (else they stay, and expire as they would). Returns how many were withdrawn."""
        check_feed_admin(principal)
        feed = self.get(principal, name)
        withdrawn = 0
        if withdraw:
            keys = [i.fields.identity for i in self._store.iterate(_owned(feed), self._clock.now())]
            reason = f"withdrawn: feed {feed.name} was removed"
            withdrawn = self._withdrawal.withdraw(keys, feed.principal(), reason)
        self._feeds.delete_feed(feed.id)
        self._sources.forget(feed.id)
        self._audit(principal, "feed-removed", feed, {"withdrawn": withdrawn})
        return withdrawn

    # -- runs ----------------------------------------------------------------------------------

    def run(self, principal: Principal, name: str, *, full: bool = False) -> FeedRun:
        """Run a feed now (Conflict if it is running already)."""
        check_feed_admin(principal)
        feed = self.get(principal, name)
        run = self._run(feed, full=full, stop=None)
        if run is None:
            raise Conflict(f"feed {feed.name} is running already")
        return run

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Run every enabled feed whose interval has passed, one at a time; returns how many
        ran. What `iocd serve` calls in the background."""
        ran = 0
        for feed in self._feeds.list_feeds():
            if stop is not None and stop.is_set():
                break
            if feed.due(self._clock.now()) and self._run(feed, full=False, stop=stop):
                ran += 1
        return ran

    def _run(self, feed: Feed, *, full: bool, stop: threading.Event | None) -> FeedRun | None:
        token = uuid.uuid4().hex
        started = self._clock.now()
        if not self._feeds.claim(feed.id, token, started, started - CLAIM_STALE):
            return None

        def heartbeat() -> None:
            now = self._clock.now()
            self._feeds.claim(feed.id, token, now, now - CLAIM_STALE)

        tally = Tally()
        outcome, error, pull = RunOutcome.OK, None, None
        applier = FeedApplier(
            self._indicators,
            self._store,
            self._feeds,
            self._withdrawal,
            self._clock,
            self._chunk_size,
            stop,
            heartbeat,
        )
        try:
            pull = self._pull(feed, full or feed.full_pass_due(started))
            if pull.not_modified:
                outcome = RunOutcome.NOT_MODIFIED
            else:
                applier.apply(feed, pull, tally)
        except (FeedUnavailable, Interrupted) as exc:
            outcome, error = RunOutcome.FAILED, exc.message
        except IocdError as exc:
            outcome, error = RunOutcome.FAILED, exc.message
        except Exception as exc:  # a bug or the store failing: recorded, never fatal to serve
            log.exception("feed %s failed", feed.name)
            outcome, error = RunOutcome.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            if pull is not None:
                pull.close()
            self._feeds.release(feed.id, token)
        if outcome is RunOutcome.FAILED:
            log.warning("feed %s failed: %s", feed.name, error)
        return self._feeds.add_run(
            FeedRun(
                id=0,
                feed_id=feed.id,
                feed_name=feed.name,
                started_at=started,
                finished_at=self._clock.now(),
                outcome=outcome,
                fetched=tally.fetched,
                added=tally.added,
                updated=tally.updated,
                withdrawn=tally.withdrawn,
                unchanged=tally.unchanged,
                skipped=tally.skipped,
                skip_reasons=tuple(tally.samples),
                error=error,
                full=bool(pull is not None and pull.full and not pull.not_modified),
            )
        )

    def _pull(self, feed: Feed, full: bool) -> FeedPull:
        return self._sources.pull(feed, self._clock.now(), full=full)

    def _audit(
        self, principal: Principal, action: str, feed: Feed, changes: dict[str, object]
    ) -> None:
        entry = AuditEntry(
            self._clock.now(),
            principal.name,
            principal.door,
            action,
            None,
            {"feed": feed.name, "kind": feed.kind.value, **changes},
        )
        with self._store.accounts() as tx:
            tx.append_audit([entry])


def _owned(feed: Feed) -> IndicatorQuery:
    return IndicatorQuery(where=Compare("createdBySource", Op.EQ, feed.owner))
