"""The indicator use cases: submit, import, list, get, delete, history, expiry sweep.

Every method takes the acting principal, checks it against its role and device groups
(policy.access), and records it in the audit log.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from iocd.clock import Clock
from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import Indicator, IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import IndicatorState
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.policy.access import can_read, check_delete, check_write_scope, sight_for
from iocd.services.deletion import record_deletions
from iocd.services.ports import Notifier, Store, StoreTransaction
from iocd.services.submission import BatchWriter, GuardrailCheck, ItemResult, Outcome

__all__ = ["IndicatorService", "ItemResult", "Limits", "Outcome", "Page"]

_T = TypeVar("_T")
_Pending = tuple[_T, list[ItemResult], int, "Future[bool | None]"]
"""A batch whose commit is in flight: (tag, results, sequence to publish, the commit)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_active: int = 10_000_000
    max_batch: int = 10_000
    max_page: int = 10_000


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Indicator]
    total: int | None
    has_more: bool


class IndicatorService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        guardrail: GuardrailCheck,
        limits: Limits | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """`guardrail` answers why a write must be refused, or None (policy.guardrails);
        `notifier` hears the change-sequence value after every committed change."""
        self._store = store
        self._clock = clock
        self._guardrail = guardrail
        self._limits = limits or Limits()
        self._notifier = notifier

    def _published(self, sequence: int) -> None:
        if self._notifier is not None:
            self._notifier.changed(sequence)

    # -- writes ---------------------------------------------------------------------------

    def submit(self, draft: IndicatorDraft, principal: Principal) -> ItemResult:
        """Create or update one indicator; raises the item's error if it failed."""
        result = self.import_batch([draft], principal, max_batch=1)[0]
        if result.error is not None:
            raise result.error
        return result

    def import_batch(
        self,
        drafts: Sequence[IndicatorDraft],
        principal: Principal,
        max_batch: int | None = None,
        *,
        owner: str | None = None,
    ) -> list[ItemResult]:
        """Submit many; each fails alone. One transaction: committed together or not at all.

        With `owner` (a feed), an item whose indicator another owns fails (OwnedElsewhere)."""
        limit = max_batch or self._limits.max_batch
        if len(drafts) > limit:
            raise InvalidInput(
                "Indicators",
                f"{len(drafts)} items exceed the batch size of {limit}",
                "MaximumBatchSizeExceeded",
            )
        if not drafts:
            return []
        self.sweep_expired()
        with self._store.transaction() as tx:
            results, sequence = self._write_batch(tx, drafts, principal, owner)
        self._published(sequence)
        return results

    def _write_batch(
        self,
        tx: StoreTransaction,
        drafts: Sequence[IndicatorDraft],
        principal: Principal,
        owner: str | None = None,
    ) -> tuple[list[ItemResult], int]:
        """(the results, the sequence value to publish once committed)."""
        writer = BatchWriter(
            tx, principal, self._clock.now(), self._guardrail, self._limits.max_active, owner
        )
        results = writer.run(drafts)
        return results, tx.last_sequence() if self._notifier is not None else 0

    def import_batches(
        self, batches: Iterable[tuple[_T, Sequence[IndicatorDraft]]], principal: Principal
    ) -> Iterator[tuple[_T, list[ItemResult]]]:
        """`import_batch` for each batch in turn (any size), each its own transaction, with each
        commit running in a background thread while the next batch is read from `batches` (a
        commit mostly waits for the disk; reading a batch is the caller's parsing).

        Nothing else overlaps: a batch's transaction begins only once the previous one has
        committed, so its identity look-ups see every earlier batch. A batch's results are
        yielded after its commit succeeded (an error of the commit is raised instead), with
        the tag it came with. Closing the iterator early waits for a commit in flight. For
        stores whose transactions may end in another thread than they began (the SQL store)."""
        with ThreadPoolExecutor(1, thread_name_prefix="iocd-commit") as committer:
            pending: list[_Pending[_T]] = []
            for tag, drafts in batches:
                if pending:
                    yield self._committed(*pending.pop())
                if drafts:
                    pending.append(self._commit_behind(committer, tag, drafts, principal))
                else:
                    yield tag, []
            if pending:
                yield self._committed(*pending.pop())

    def _commit_behind(
        self,
        committer: ThreadPoolExecutor,
        tag: _T,
        drafts: Sequence[IndicatorDraft],
        principal: Principal,
    ) -> _Pending[_T]:
        """Write one batch in a new transaction and hand its commit to `committer`."""
        self.sweep_expired()
        opened = self._store.transaction()
        tx = opened.__enter__()
        try:
            results, sequence = self._write_batch(tx, drafts, principal)
        except BaseException:
            if not opened.__exit__(*sys.exc_info()):
                raise
            raise  # pragma: no cover - a transaction never swallows an error
        return tag, results, sequence, committer.submit(opened.__exit__, None, None, None)

    def _committed(
        self, tag: _T, results: list[ItemResult], sequence: int, commit: Future[bool | None]
    ) -> tuple[_T, list[ItemResult]]:
        commit.result()
        self._published(sequence)
        return tag, results

    def check_import(
        self, principal: Principal, rbac_group_names: Sequence[str] | None = None
    ) -> None:
        """Refuse, before anything is read, an import of which nothing could be stored: a
        read-only caller, or device groups (given for every row; None when each row names its
        own, as a CSV does) outside the caller's scope. Forbidden, audited once."""
        try:
            if rbac_group_names is not None:
                check_write_scope(principal, rbac_group_names)
            elif principal.role is Role.READ_ONLY:
                raise Forbidden(f"{principal.label} has a read-only role")
        except Forbidden as error:
            with self._store.transaction() as tx:
                self._record_denial(tx, principal, None, error)
            raise

    def delete(self, indicator_id: int, principal: Principal) -> None:
        self.delete_many([indicator_id], principal)

    def delete_many(self, indicator_ids: Sequence[int], principal: Principal) -> None:
        """Delete all or nothing: NotFound or Forbidden for the first id that cannot go."""
        now = self._clock.now()
        with self._store.transaction() as tx:
            targets: list[Indicator] = []
            for indicator_id in dict.fromkeys(indicator_ids):
                indicator = tx.get(indicator_id)
                if indicator is None or not indicator.is_active(now):
                    raise NotFound(f"indicator {indicator_id} does not exist or is not active")
                targets.append(indicator)
            denied = self._first_denied(targets, principal)
            if denied is not None:
                self._record_denial(tx, principal, denied[0].id, denied[1])
            else:
                record_deletions(tx, targets, principal, self._clock.now())
            sequence = tx.last_sequence() if self._notifier is not None else 0
        if denied is not None:
            raise denied[1]
        self._published(sequence)

    def _first_denied(
        self, targets: list[Indicator], principal: Principal
    ) -> tuple[Indicator, Forbidden] | None:
        for indicator in targets:
            try:
                check_delete(principal, indicator)
            except Forbidden as error:
                return indicator, error
        return None

    def _record_denial(
        self,
        tx: StoreTransaction,
        principal: Principal,
        indicator_id: int | None,
        error: Forbidden,
    ) -> None:
        tx.append_audit(
            [
                AuditEntry(
                    self._clock.now(),
                    principal.name,
                    principal.door,
                    "denied",
                    indicator_id,
                    {"reason": error.message},
                )
            ]
        )

    def sweep_expired(self, limit: int = 5_000) -> int:
        """Record the expiry of every indicator past its expiration time; returns how many."""
        total = 0
        while True:
            now = self._clock.now()
            with self._store.transaction(readonly=True) as tx:
                if not tx.due_for_expiry(now, 1):
                    return total
            with self._store.transaction() as tx:
                due = tx.due_for_expiry(now, limit)
                if not due:
                    return total
                first = tx.allocate_sequence(len(due))
                expired = [
                    replace(
                        i,
                        state=IndicatorState.EXPIRED,
                        sequence=first + n,
                        state_changed_at=i.fields.expiration_time,
                    )
                    for n, i in enumerate(due)
                ]
                tx.update(expired)
                tx.append_changes(
                    [
                        Change(
                            i.sequence, i.id, ChangeKind.EXPIRED, i.fields.expiration_time or now
                        )
                        for i in expired
                    ]
                )
                tx.append_audit(
                    [
                        AuditEntry(
                            now,
                            "system",
                            "Expiry",
                            "expired",
                            i.id,
                            {"state": ["active", "expired"]},
                            sequence=i.sequence,
                        )
                        for i in expired
                    ]
                )
            self._published(first + len(due) - 1)
            total += len(due)

    # -- reads ----------------------------------------------------------------------------

    def get(self, indicator_id: int, principal: Principal) -> Indicator:
        """One indicator in any state; outside the caller's scope it is refused and audited."""
        with self._store.transaction(readonly=True) as tx:
            indicator = tx.get(indicator_id)
        if indicator is not None and not can_read(principal, indicator):
            error = Forbidden(f"indicator {indicator_id} is outside the scope of {principal.label}")
            with self._store.transaction() as tx:
                self._record_denial(tx, principal, indicator_id, error)
            raise error
        if indicator is None:
            raise NotFound(f"indicator {indicator_id} not found")
        now = self._clock.now()
        if indicator.state_at(now) is not indicator.state:
            indicator = replace(indicator, state=indicator.state_at(now))
        return indicator

    def list(self, query: IndicatorQuery, principal: Principal, *, count: bool = False) -> Page:
        if query.top > self._limits.max_page or query.top < 0 or query.skip < 0:
            raise InvalidInput(
                "$top", f"must be between 0 and {self._limits.max_page}", "ODataError"
            )
        scoped = replace(query, sight=sight_for(principal), top=query.top + 1)
        now = self._clock.now()
        with self._store.transaction(readonly=True) as tx:
            rows = tx.list(scoped, now)
            total = tx.count(replace(scoped, after_id=None), now) if count else None
        rows = [
            r if r.state_at(now) is r.state else replace(r, state=r.state_at(now)) for r in rows
        ]
        return Page(rows[: query.top], total, len(rows) > query.top)

    def count_by(
        self, principal: Principal, fields: Sequence[str], query: IndicatorQuery | None = None
    ) -> dict[tuple[str | None, ...], int]:
        """The indicators the principal may see that `query` selects (active ones by default),
        counted per distinct tuple of these text fields (e.g. indicatorType, action)."""
        scoped = replace(query or IndicatorQuery(), sight=sight_for(principal))
        with self._store.transaction(readonly=True) as tx:
            return tx.count_by(scoped, self._clock.now(), fields)

    def count(self, principal: Principal, query: IndicatorQuery) -> int:
        """How many indicators the principal may see that the query selects."""
        scoped = replace(query, sight=sight_for(principal))
        with self._store.transaction(readonly=True) as tx:
            return tx.count(scoped, self._clock.now())

    def iterate(self, query: IndicatorQuery, principal: Principal) -> Iterator[Indicator]:
        """Every matching indicator in id order, streamed (exports)."""
        scoped = replace(query, sight=sight_for(principal))
        return self._store.iterate(scoped, self._clock.now())

    def history(self, indicator_id: int, principal: Principal) -> builtins.list[AuditEntry]:
        self.get(indicator_id, principal)
        with self._store.transaction(readonly=True) as tx:
            return tx.audit_for(indicator_id)

    def active_count(self) -> int:
        with self._store.transaction(readonly=True) as tx:
            return tx.active_count()

    def last_sequence(self) -> int:
        with self._store.transaction(readonly=True) as tx:
            return tx.last_sequence()

    def changes_since(self, sequence: int, limit: int = 10_000) -> builtins.list[Change]:
        with self._store.transaction(readonly=True) as tx:
            return tx.changes_since(sequence, limit)
