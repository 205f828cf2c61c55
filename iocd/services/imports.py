"""Importing a stream of parsed rows in committed chunks, with a per-line report.

Rows come from any codec as (line number, IndicatorFields or failure reason). Each chunk is one
transaction: a crash or Ctrl-C keeps the chunks already committed and nothing half-written,
and rerunning the same import is idempotent (unchanged rows are no-ops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from iocd.domain.indicator import IndicatorDraft, IndicatorFields
from iocd.domain.principal import Principal
from iocd.services.indicators import IndicatorService
from iocd.services.submission import ItemResult, Outcome

ParsedRow = tuple[int, IndicatorFields | str]
"""(line number, the row's fields or why it could not be parsed)."""

MAX_REPORTED_FAILURES = 10_000


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    """(line, reason) of failed rows, the first MAX_REPORTED_FAILURES of them."""

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    def fail(self, line: int, reason: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append((line, reason))

    def count(self, outcome: Outcome) -> None:
        if outcome is Outcome.CREATED:
            self.created += 1
        elif outcome is Outcome.UPDATED:
            self.updated += 1
        else:
            self.unchanged += 1


Progress = Callable[[ImportReport], None]
RowResult = Callable[[int, ItemResult], None]


def import_rows(
    service: IndicatorService,
    rows: Iterable[ParsedRow],
    principal: Principal,
    *,
    chunk_size: int = 5_000,
    override_justification: str | None = None,
    on_chunk: Progress | None = None,
    on_result: RowResult | None = None,
) -> ImportReport:
    """Store every valid row; report every bad one by line number. Streams in bounded memory.

    `on_result(line, result)` hears what happened to each row that reached the service (the
    portal shows imported and updated rows beside the failed ones)."""
    report = ImportReport()
    iterator = iter(rows)
    while chunk := list(islice(iterator, chunk_size)):
        lines: list[int] = []
        drafts: list[IndicatorDraft] = []
        for line, parsed in chunk:
            if isinstance(parsed, str):
                report.fail(line, parsed)
            else:
                lines.append(line)
                drafts.append(IndicatorDraft(parsed, None, override_justification))
        results = service.import_batch(drafts, principal, max_batch=len(drafts) or 1)
        for line, result in zip(lines, results, strict=True):
            if result.error is not None:
                report.fail(line, result.error.message)
            else:
                report.count(result.outcome)
            if on_result is not None:
                on_result(line, result)
        if on_chunk is not None:
            on_chunk(report)
    return report
