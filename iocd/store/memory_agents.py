"""Agents in memory: the reference behaviour of AgentsTransaction (contract suite), and the
policy rows of the in-memory store."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from iocd.domain.agents import AgentDevice, EnrollmentToken
from iocd.domain.history import AuditEntry
from iocd.domain.indicator import Indicator
from iocd.domain.types import IndicatorState
from iocd.matching.snapshot import AUTHORITY_TEXT, snapshot_batch


@dataclass
class AgentState:
    tokens: dict[str, EnrollmentToken] = field(default_factory=dict)
    agents: dict[str, AgentDevice] = field(default_factory=dict)
    reports: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def copy(self) -> AgentState:
        return AgentState(dict(self.tokens), dict(self.agents), dict(self.reports))


class MemoryAgents:
    def __init__(
        self, state: AgentState, append_audit: Callable[[Sequence[AuditEntry]], None]
    ) -> None:
        self._s = state
        self._append_audit = append_audit

    def put_enrollment_token(self, token: EnrollmentToken) -> None:
        self._s.tokens[token.token_id] = token

    def get_enrollment_token(self, token_id: str) -> EnrollmentToken | None:
        return self._s.tokens.get(token_id)

    def list_enrollment_tokens(self) -> builtins.list[EnrollmentToken]:
        return [self._s.tokens[k] for k in sorted(self._s.tokens)]

    def put_agent(self, agent: AgentDevice) -> None:
        self._s.agents[agent.device_id] = agent

    def get_agent(self, device_id: str) -> AgentDevice | None:
        return self._s.agents.get(device_id)

    def list_agents(self) -> builtins.list[AgentDevice]:
        return [self._s.agents[k] for k in sorted(self._s.agents)]

    def report_seen(self, device_id: str, batch_id: str) -> bool:
        return (device_id, batch_id) in self._s.reports

    def add_report(self, device_id: str, batch_id: str, at: datetime) -> bool:
        if (device_id, batch_id) in self._s.reports:
            return False
        self._s.reports[(device_id, batch_id)] = at
        return True

    def purge_reports(self, received_before: datetime) -> int:
        old = [key for key, at in self._s.reports.items() if at < received_before]
        for key in old:
            del self._s.reports[key]
        return len(old)

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._append_audit(entries)


def policy_batches(
    indicators: Iterable[Indicator], sequence: int, batch: int
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The stored-active indicators (in id order) as snapshot batches of at most `batch` rows."""
    active = sorted((i for i in indicators if i.state is IndicatorState.ACTIVE), key=lambda i: i.id)
    for start in range(0, max(len(active), 1), batch):
        chunk = active[start : start + batch]
        yield (
            sequence,
            snapshot_batch(
                [i.id for i in chunk],
                [i.fields.indicator_type.value for i in chunk],
                [i.fields.value for i in chunk],
                [i.fields.action.value for i in chunk],
                [list(i.fields.rbac_group_names) for i in chunk],
                [AUTHORITY_TEXT[i.authority] for i in chunk],
                [bool(i.override_justification) for i in chunk],
                [i.fields.generate_alert for i in chunk],
                [i.sequence for i in chunk],
            ),
        )
