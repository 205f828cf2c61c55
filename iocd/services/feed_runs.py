"""One run of a feed: pull, submit what is new, withdraw what left, keep the result.

Order matters for the guarantees of docs/feeds.md:
1. the pull fetches and reads the whole feed first: a source that fails, hangs, or sends a
   truncated or malformed document fails the run before anything is written;
2. new items are submitted in committed chunks as the feed's principal, with the ownership
   rule (services.submission.OwnedElsewhere): items held by another feed or a person are
   skipped with the reason, never changed;
3. only then, and only if every chunk went in, what left the feed is withdrawn (its own
   indicators only); a feed that suddenly gives no usable value at all fails instead;
4. last, the pull becomes the base of the next diff and the feed's state is saved. A run that
   fails anywhere keeps the previous base and state, so the next run redoes what is missing
   (resubmitting an unchanged item is a no-op).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice

from iocd.clock import Clock
from iocd.domain.feeds import MAX_SKIP_SAMPLES, Feed, FeedUnavailable
from iocd.domain.indicator import IdentityKey, IndicatorDraft
from iocd.domain.principal import Principal
from iocd.domain.query import Compare, IndicatorQuery, Op
from iocd.errors import IocdError
from iocd.services.feed_ports import FeedItem, FeedPull, FeedStore
from iocd.services.feed_withdrawal import Withdrawal
from iocd.services.indicators import IndicatorService
from iocd.services.ports import Store
from iocd.services.submission import Outcome

RECONCILE_BATCH = 5_000


class Interrupted(IocdError):
    """iocd is stopping: the run ends where it is (the next run resumes it)."""


@dataclass
class Tally:
    fetched: int = 0
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    skipped: int = 0
    samples: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, label: str, reason: str) -> None:
        self.skipped += 1
        if len(self.samples) < MAX_SKIP_SAMPLES:
            self.samples.append((label, reason.removeprefix("skipped: ")))

    def count(self, outcome: Outcome) -> None:
        if outcome is Outcome.CREATED:
            self.added += 1
        elif outcome is Outcome.UPDATED:
            self.updated += 1
        else:
            self.unchanged += 1


def _chunks(items: Iterator[FeedItem], size: int) -> Iterator[list[FeedItem]]:
    while chunk := list(islice(items, size)):
        yield chunk


@dataclass
class FeedApplier:
    """Applies one pull of one feed (steps 2 to 4 of the module docstring)."""

    indicators: IndicatorService
    store: Store
    feeds: FeedStore
    withdrawal: Withdrawal
    clock: Clock
    chunk_size: int = 5_000
    stop: threading.Event | None = None
    heartbeat: Callable[[], None] | None = None

    def apply(self, feed: Feed, pull: FeedPull, tally: Tally) -> None:
        principal = feed.principal()
        tally.fetched = pull.fetched
        tally.unchanged = pull.unchanged
        if pull.over_cap:
            tally.skipped += pull.over_cap
            tally.samples.insert(
                0, ("(cap)", f"{pull.over_cap:,} items past the cap of {feed.cap:,} left out")
            )
        for chunk in _chunks(pull.added(), self.chunk_size):
            self._submit(feed, principal, chunk, tally)
        usable = pull.usable()
        if usable == 0 and feed.state.usable > 0:
            raise FeedUnavailable(
                f"the feed gives no usable indicator any more (the last good run had "
                f"{feed.state.usable:,}); taken as a broken source, nothing was withdrawn"
            )
        reason = f"withdrawn: no longer in feed {feed.name}"
        if not pull.full:
            gone: Iterable[IdentityKey] = pull.removed()
        elif feed.state.full_pass_at is None:
            gone = ()  # no good run before: the feed owns only what this run sent
        else:
            gone = self._reconciled(feed, pull)
        tally.withdrawn = self.withdrawal.withdraw(gone, principal, reason)
        pull.commit()
        state = replace(
            pull.state,
            usable=usable,
            full_pass_at=self.clock.now() if pull.full else feed.state.full_pass_at,
        )
        self.feeds.save_state(feed.id, state)

    def _submit(
        self, feed: Feed, principal: Principal, chunk: list[FeedItem], tally: Tally
    ) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("interrupted: iocd is stopping (the next run resumes)")
        labels: list[str] = []
        drafts: list[IndicatorDraft] = []
        for label, parsed in chunk:
            if isinstance(parsed, str):
                tally.skip(label, parsed)
            else:
                labels.append(label)
                drafts.append(IndicatorDraft(parsed))
        if drafts:
            results = self.indicators.import_batch(
                drafts, principal, max_batch=len(drafts), owner=feed.owner
            )
            for label, result in zip(labels, results, strict=True):
                if result.error is not None:
                    tally.skip(label, result.error.message)
                else:
                    tally.count(result.outcome)
        if self.heartbeat is not None:
            self.heartbeat()

    def _reconciled(self, feed: Feed, pull: FeedPull) -> list[IdentityKey]:
        """The identities of the feed's active indicators that no item of the pull gives."""
        query = IndicatorQuery(where=Compare("createdBySource", Op.EQ, feed.owner))
        gone: list[IdentityKey] = []
        batch: list[IdentityKey] = []
        now: datetime = self.clock.now()
        for indicator in self.store.iterate(query, now, RECONCILE_BATCH):
            batch.append(indicator.fields.identity)
            if len(batch) >= RECONCILE_BATCH:
                gone.extend(k for k, held in zip(batch, pull.holds(batch), strict=True) if not held)
                batch = []
        if batch:
            gone.extend(k for k, held in zip(batch, pull.holds(batch), strict=True) if not held)
        return gone
