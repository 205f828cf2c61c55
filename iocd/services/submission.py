"""Submitting indicators: one or a batch, with identity upsert, guardrails, authorisation and cap.

Every item of a batch is decided on its own (bad items fail alone); everything a batch writes
(indicators, change-sequence values, audit entries) commits in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import (
    IdentityKey,
    Indicator,
    IndicatorDraft,
    IndicatorFields,
    creation_record,
    field_changes,
)
from iocd.domain.principal import Principal
from iocd.domain.types import IndicatorState
from iocd.errors import (
    CapacityExceeded,
    Conflict,
    Forbidden,
    GuardrailRefused,
    InvalidInput,
    IocdError,
    NotFound,
)
from iocd.policy.access import authority_of, check_write
from iocd.services.ports import StoreTransaction


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one submitted item, in request order."""

    outcome: Outcome
    indicator: Indicator | None = None
    error: IocdError | None = None

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED


@dataclass(slots=True)
class _Op:
    """A pending write: a create or update of one indicator (or the expiry of a stale one)."""

    kind: ChangeKind
    fields: IndicatorFields
    existing: Indicator | None
    justification: str | None
    items: list[int] = field(default_factory=list)
    result: Indicator | None = None


GuardrailCheck = Callable[[IndicatorFields], str | None]


class OwnedElsewhere(Conflict):
    """The item's indicator belongs to another feed or to a person: a feed never changes it."""


def check_owner(owner: str, existing: Indicator) -> None:
    source = existing.created_by_source
    if source == owner:
        return
    if source.startswith("Feed:"):
        raise OwnedElsewhere(f"owned by {source} (indicator {existing.id})")
    who = existing.created_by_display_name or existing.created_by
    raise OwnedElsewhere(f"owned by {who} via {source} (indicator {existing.id})")


_OUTCOME_OF = {
    ChangeKind.CREATED: Outcome.CREATED,
    ChangeKind.UPDATED: Outcome.UPDATED,
    ChangeKind.EXPIRED: Outcome.UPDATED,  # never an item's own: expiring a stale match
}


@dataclass
class BatchWriter:
    """Decides and writes one batch inside an open transaction."""

    tx: StoreTransaction
    principal: Principal
    now: datetime
    guardrail: GuardrailCheck
    max_active: int
    owner: str | None = None
    """When set (a feed's `Feed:<name>`), only indicators whose createdBySource is this owner
    may be updated: an item that would change another's fails with OwnedElsewhere."""
    results: list[ItemResult | None] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)
    denied: list[AuditEntry] = field(default_factory=list)
    _by_identity: dict[IdentityKey, _Op] = field(default_factory=dict)
    _by_id: dict[int, _Op] = field(default_factory=dict)
    _outcomes: dict[int, Outcome] = field(default_factory=dict)
    """Outcomes of items that repeat an identity planned earlier in the batch, by index."""

    def run(self, drafts: Sequence[IndicatorDraft]) -> list[ItemResult]:
        self.results = [None] * len(drafts)
        keys = [d.fields.identity for d in drafts]
        found_identity = self.tx.find_by_identity(
            [key for key, d in zip(keys, drafts, strict=True) if d.target_id is None]
        )
        external = sorted(
            {d.fields.external_id for d in drafts if d.fields.external_id and d.target_id is None}
        )
        found_external = (
            self.tx.find_by_external_id(self.principal.name, external) if external else {}
        )
        creates_allowed = self.max_active - self.tx.active_count()
        for index, (key, draft) in enumerate(zip(keys, drafts, strict=True)):
            try:
                existing = self._existing(draft, key, found_identity, found_external)
                self._check(draft, existing)
                if existing is None and not self._pending_create(key):
                    if creates_allowed <= 0:
                        raise CapacityExceeded(
                            f"the list is at its cap of {self.max_active:,} active indicators; "
                            "delete or expire some, or raise IOCD_MAX_ACTIVE_INDICATORS"
                        )
                    creates_allowed -= 1
                self._plan(index, draft, key, existing)
            except IocdError as error:
                if isinstance(error, Forbidden):
                    self.denied.append(self._denial(draft, error))
                self.results[index] = ItemResult(Outcome.FAILED, error=error)
        self._write()
        return [r for r in self.results if r is not None]

    def _pending_create(self, identity: IdentityKey) -> bool:
        op = self._by_identity.get(identity)
        return op is not None and op.kind is ChangeKind.CREATED

    def _existing(
        self,
        draft: IndicatorDraft,
        key: IdentityKey,
        found_identity: dict[IdentityKey, Indicator],
        found_external: dict[str, Indicator],
    ) -> Indicator | None:
        """The indicator this draft updates, if any; stale (expired) matches are expired first."""
        if draft.target_id is not None:
            pending = self._by_id.get(draft.target_id)
            current = (
                pending.result or pending.existing if pending else self.tx.get(draft.target_id)
            )
            if current is None or not current.is_active(self.now):
                raise NotFound(f"indicator {draft.target_id} does not exist or is no longer active")
            clash = found_identity.get(key) or self.tx.find_by_identity([key]).get(key)
            if clash is not None and clash.id != current.id and clash.is_active(self.now):
                raise Conflict(
                    f"indicator {clash.id} already holds {draft.fields.indicator_type.value} "
                    f"{draft.fields.value} for the same device groups"
                )
            return current
        if key in self._by_identity:
            return None
        candidate = None
        if draft.fields.external_id:
            candidate = found_external.get(draft.fields.external_id)
        if candidate is None:
            candidate = found_identity.get(key)
        if candidate is not None and not candidate.is_active(self.now):
            self._expire_stale(candidate)
            found_identity.pop(candidate.fields.identity, None)
            return None
        return candidate

    def _check(self, draft: IndicatorDraft, existing: Indicator | None) -> None:
        expiry = draft.fields.expiration_time
        if expiry is not None and expiry <= self.now:
            raise InvalidInput("expirationTime", "is in the past")
        check_write(self.principal, draft.fields, existing)
        if self.owner is not None and existing is not None:
            check_owner(self.owner, existing)
        if draft.override_justification is not None and not draft.override_justification.strip():
            raise InvalidInput("overrideJustification", "an override needs a justification")
        if draft.override_justification is None:
            reason = self.guardrail(draft.fields)
            if reason is not None:
                raise GuardrailRefused(reason)

    def _plan(
        self, index: int, draft: IndicatorDraft, key: IdentityKey, existing: Indicator | None
    ) -> None:
        pending = self._by_identity.get(key)
        if existing is not None and existing.id in self._by_id:
            pending = self._by_id[existing.id]
        if pending is not None:
            changed = bool(draft.fields.differs_from(pending.fields))
            pending.fields = draft.fields
            pending.justification = draft.override_justification or pending.justification
            pending.items.append(index)
            self._set_outcome(index, pending, changed)
            return
        if (
            existing is not None
            and not draft.fields.differs_from(existing.fields)
            and (draft.override_justification in (None, existing.override_justification))
        ):
            self.results[index] = ItemResult(Outcome.UNCHANGED, existing)
            return
        kind = ChangeKind.UPDATED if existing is not None else ChangeKind.CREATED
        op = _Op(kind, draft.fields, existing, draft.override_justification, [index])
        self.ops.append(op)
        self._by_identity[key] = op
        if existing is not None:
            self._by_id[existing.id] = op

    def _set_outcome(self, index: int, op: _Op, changed: bool) -> None:
        """A repeat of an identity already planned in this batch: it shares that op's result."""
        if op.kind is ChangeKind.CREATED:
            self._outcomes[index] = Outcome.CREATED if changed else Outcome.UNCHANGED
        else:
            self._outcomes[index] = Outcome.UPDATED if changed else Outcome.UNCHANGED

    def _expire_stale(self, stale: Indicator) -> None:
        self.ops.append(_Op(ChangeKind.EXPIRED, stale.fields, stale, None))

    def _denial(self, draft: IndicatorDraft, error: IocdError) -> AuditEntry:
        return AuditEntry(
            at=self.now,
            actor=self.principal.name,
            door=self.principal.door,
            action="denied",
            indicator_id=draft.target_id,
            changes={"indicatorValue": [None, draft.fields.value], "reason": error.message},
        )

    def _write(self) -> None:
        if self.denied:
            self.tx.append_audit(self.denied)
        if not self.ops:
            return
        creates = sum(1 for op in self.ops if op.kind is ChangeKind.CREATED)
        next_id = self.tx.allocate_ids(creates) if creates else 0
        next_seq = self.tx.allocate_sequence(len(self.ops))
        inserts: list[Indicator] = []
        updates: list[Indicator] = []
        changes: list[Change] = []
        audits: list[AuditEntry] = []
        now, results, outcomes = self.now, self.results, self._outcomes
        new = self._new_indicator()
        actor, door, created = self.principal.name, self.principal.door, ChangeKind.CREATED
        for op in self.ops:
            kind = op.kind
            if kind is created:  # the bulk of an import: _audit's create branch, inlined
                result = new(next_id, op.fields, next_seq, op.justification)
                next_id += 1
                inserts.append(result)
                op.result = result
                audit = AuditEntry(
                    now,
                    actor,
                    door,
                    created.value,
                    result.id,
                    creation_record(op.fields),
                    op.justification,
                    next_seq,
                )
            else:
                result = self._revised(next_seq, op)
                updates.append(result)
                op.result = result
                audit = self._audit(op, next_seq)
            changes.append(Change(next_seq, result.id, kind, now))
            audits.append(audit)
            next_seq += 1
            default = _OUTCOME_OF[kind]
            for index in op.items:
                outcome = outcomes.pop(index, default) if outcomes else default
                results[index] = ItemResult(outcome, result)
        self.tx.update(
            updates
        )  # first: a stale row must leave the active identity before its successor
        self.tx.insert(inserts)
        self.tx.append_changes(changes)
        self.tx.append_audit(audits)

    def _new_indicator(self) -> Callable[[int, IndicatorFields, int, str | None], Indicator]:
        """Builds the new indicators of this batch: what the principal and the time give is the
        same for every one of them, so it is looked up once."""
        p, now, active = self.principal, self.now, IndicatorState.ACTIVE
        name, label, door, source_type = p.name, p.label, p.door, p.kind.value
        authority = authority_of(p)

        def new(
            indicator_id: int, fields: IndicatorFields, sequence: int, justification: str | None
        ) -> Indicator:
            return Indicator(
                indicator_id,
                fields,
                active,
                name,  # created_by
                label,  # created_by_display_name
                door,  # created_by_source
                source_type,
                now,  # created_at
                now,  # last_updated_at
                name,  # last_updated_by
                sequence,
                justification,  # override_justification
                now,  # state_changed_at
                authority,
            )

        return new

    def _revised(self, sequence: int, op: _Op) -> Indicator:
        assert op.existing is not None
        if op.kind is ChangeKind.EXPIRED:
            return replace(
                op.existing,
                state=IndicatorState.EXPIRED,
                sequence=sequence,
                state_changed_at=op.existing.fields.expiration_time,
            )
        return replace(
            op.existing,
            fields=op.fields,
            last_updated_at=self.now,
            last_updated_by=self.principal.name,
            sequence=sequence,
            override_justification=op.justification,
        )

    def _audit(self, op: _Op, sequence: int) -> AuditEntry:
        assert op.result is not None
        changes: dict[str, list[object]]
        if op.kind is ChangeKind.EXPIRED:
            actor, door, changes = "system", "Expiry", {"state": ["active", "expired"]}
            justification = None
        else:
            actor, door = self.principal.name, self.principal.door
            before = op.existing.fields if op.existing is not None else None
            changes = field_changes(before, op.fields)
            justification = op.justification
        # at, actor, door, action, indicator_id, changes, justification, sequence
        return AuditEntry(
            self.now, actor, door, op.kind.value, op.result.id, changes, justification, sequence
        )
