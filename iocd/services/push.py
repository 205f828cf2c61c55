"""Pushing a selection of the list to another Defender-compatible Indicators API.

The remote list is reached through `RemoteIndicators` (connectors.defender over HTTP; a fake in
tests). A push compares the local selection with the remote indicators this connector created
there (their `createdBy` is its client id) and plans, by identity (type, canonical value,
device groups):

- create: selected here, absent there;
- update: selected here, and one of ours there differs in a field we push;
- delete: ours there, no longer selected here (changed selection, deleted or expired here).

Indicators someone else created there are never touched: a value to create that another
creator already holds there (same identity) is left out and reported as held by them. A dry
run stops after the plan; otherwise creates and updates go in batches (`import_batch`), then
deletes, and the plan comes back with each remote failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from iocd.domain.indicator import parse_datetime
from iocd.domain.principal import Principal
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import parse_indicator_type
from iocd.domain.values import normalise
from iocd.domain.wire import indicator_to_wire
from iocd.errors import IocdError
from iocd.services.indicators import IndicatorService

PUSHED_FIELDS = (
    "indicatorValue",
    "indicatorType",
    "action",
    "title",
    "description",
    "severity",
    "expirationTime",
    "generateAlert",
    "recommendedActions",
    "application",
    "educateUrl",
    "externalId",
    "category",
    "mitreTechniques",
    "rbacGroupNames",
)
"""The fields a push sends (MDE's Indicator entity, what the remote keeps as given)."""
COMPARED_FIELDS = PUSHED_FIELDS[2:]
"""Fields whose difference makes an update (type and value are the identity)."""

Key = tuple[str, str, tuple[str, ...]]
"""Identity of an indicator on either side: (type, canonical value, sorted device groups)."""


class RemoteIndicators(Protocol):
    """Another Indicators API, as the caller's application sees it."""

    @property
    def client_id(self) -> str:
        """The application's client id: the `createdBy` of what it creates there."""
        ...

    def created_by_me(self) -> Iterable[dict[str, Any]]:
        """Every remote indicator this application created (wire form, with `id`)."""
        ...

    def holders(self, values: Sequence[str]) -> Iterable[dict[str, Any]]:
        """Remote indicators (any creator) whose value is one of `values`."""
        ...

    def import_batch(self, bodies: Sequence[dict[str, Any]]) -> list[str | None]:
        """Submit these (create or update by identity); per body, None or why it failed."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Delete these remote indicators (the connector's own)."""
        ...


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One change of the plan: what, to which value, and (for updates) which fields differ."""

    kind: str
    """create, update, delete or held (left out: someone else's there)."""
    key: Key
    local_id: int | None = None
    remote_id: str | None = None
    fields: tuple[str, ...] = ()
    note: str | None = None

    @property
    def indicator_type(self) -> str:
        return self.key[0]

    @property
    def value(self) -> str:
        return self.key[1]

    @property
    def groups(self) -> tuple[str, ...]:
        return self.key[2]


@dataclass
class PushPlan:
    changes: list[PlannedChange] = field(default_factory=list)
    unchanged: int = 0
    failures: list[tuple[PlannedChange, str]] = field(default_factory=list)
    """Changes the remote refused, with its reason (empty for a dry run)."""
    bodies: dict[Key, dict[str, Any]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[PlannedChange]:
        return [c for c in self.changes if c.kind == kind]


def identity(body: dict[str, Any]) -> Key:
    """The identity of a wire indicator; the value canonical when iocd can read it."""
    kind, value = str(body.get("indicatorType") or ""), str(body.get("indicatorValue") or "")
    with contextlib.suppress(IocdError):  # a value iocd would not store: compared as given
        value = normalise(parse_indicator_type(kind), value)
    return kind, value, tuple(sorted(body.get("rbacGroupNames") or ()))


def push_body(local: dict[str, Any]) -> dict[str, Any]:
    """The body to submit for a local indicator (wire form)."""
    return {name: local.get(name) for name in PUSHED_FIELDS if local.get(name) is not None}


def differing_fields(body: dict[str, Any], remote: dict[str, Any]) -> tuple[str, ...]:
    return tuple(n for n in COMPARED_FIELDS if _comparable(n, body) != _comparable(n, remote))


def _comparable(name: str, wire: dict[str, Any]) -> object:
    value = wire.get(name)
    if value in (None, "", []):
        return None
    if name == "expirationTime" and isinstance(value, str):
        return _instant(value)
    if isinstance(value, list):
        return tuple(sorted(str(v) for v in value))
    return value


def _instant(text: str) -> datetime | str:
    try:
        return parse_datetime("expirationTime", text)
    except IocdError:
        return text


class PushService:
    """Plans and applies a push of a local selection to one remote Indicators API."""

    def __init__(self, indicators: IndicatorService) -> None:
        self._indicators = indicators

    def plan(
        self, query: IndicatorQuery, principal: Principal, remote: RemoteIndicators
    ) -> PushPlan:
        plan = PushPlan()
        local: dict[Key, tuple[int, dict[str, Any]]] = {}
        for indicator in self._selected(query, principal):
            body = push_body(indicator_to_wire(indicator))
            local[identity(body)] = (indicator.id, body)
        mine: dict[Key, dict[str, Any]] = {}
        for remote_body in remote.created_by_me():
            if remote_body.get("createdBy") == remote.client_id:  # never anyone else's
                mine.setdefault(identity(remote_body), remote_body)
        missing = [key for key in local if key not in mine]
        held = self._held_by_others(remote, [local[k][1] for k in missing])
        for key, (local_id, body) in local.items():
            there = mine.get(key)
            if there is None and key in held:
                note = f"held there by {held[key]}"
                plan.changes.append(PlannedChange("held", key, local_id, note=note))
            elif there is None:
                plan.changes.append(PlannedChange("create", key, local_id))
                plan.bodies[key] = body
            elif changed := differing_fields(body, there):
                remote_id = str(there.get("id"))
                plan.changes.append(PlannedChange("update", key, local_id, remote_id, changed))
                plan.bodies[key] = body
            else:
                plan.unchanged += 1
        for key, there in mine.items():
            if key not in local:
                plan.changes.append(PlannedChange("delete", key, None, str(there["id"])))
        return plan

    def apply(self, plan: PushPlan, remote: RemoteIndicators, batch_size: int) -> PushPlan:
        """Send the plan's creates and updates in batches, then its deletes; records failures."""
        writes = [c for c in plan.changes if c.kind in ("create", "update")]
        for batch in _batches(writes, batch_size):
            bodies = [plan.bodies[c.key] for c in batch]
            try:
                problems = remote.import_batch(bodies)
            except IocdError as error:
                problems = [error.message] * len(batch)
            for change, problem in zip(batch, problems, strict=True):
                if problem is not None:
                    plan.failures.append((change, problem))
        deletes = plan.of_kind("delete")
        for batch in _batches(deletes, batch_size):
            try:
                remote.delete([c.remote_id for c in batch if c.remote_id is not None])
            except IocdError as error:
                plan.failures.extend((c, error.message) for c in batch)
        return plan

    def _selected(self, query: IndicatorQuery, principal: Principal) -> Iterator[Any]:
        return self._indicators.iterate(query, principal)

    @staticmethod
    def _held_by_others(
        remote: RemoteIndicators, bodies: Sequence[dict[str, Any]]
    ) -> dict[Key, str]:
        """Identities among `bodies` that someone else created there, with who."""
        wanted = {identity(b) for b in bodies}
        values = sorted({str(b["indicatorValue"]) for b in bodies})
        held: dict[Key, str] = {}
        for found in remote.holders(values) if values else ():
            key = identity(found)
            if key in wanted and found.get("createdBy") != remote.client_id:
                held[key] = str(found.get("createdBy") or "someone else")
        return held


def _batches(items: Sequence[PlannedChange], size: int) -> Iterator[list[PlannedChange]]:
    for start in range(0, len(items), max(1, size)):
        yield list(items[start : start + size])
