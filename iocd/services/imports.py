"""Importing a stream of parsed rows in committed chunks, with a per-item report.

Rows come from any codec as (line or item number, IndicatorFields or failure reason). Each chunk
is one transaction: a crash or Ctrl-C keeps the chunks already committed and nothing
half-written, and rerunning the same import is idempotent (unchanged rows are no-ops). A reason
starting with `domain.import_results.SKIPPED` is a skip (left out on purpose), counted apart
from the failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from iocd.domain.import_results import ImportedItem, ItemOutcome, is_skip, item_to_wire
from iocd.domain.indicator import IndicatorDraft, IndicatorFields
from iocd.domain.principal import Principal
from iocd.services.indicators import IndicatorService
from iocd.services.submission import ItemResult, Outcome

ParsedRow = tuple[int, IndicatorFields | str]
"""(line number, the row's fields or why it could not be parsed)."""

MAX_REPORTED_FAILURES = 10_000
_OUTCOMES = {
    Outcome.CREATED: ItemOutcome.CREATED,
    Outcome.UPDATED: ItemOutcome.UPDATED,
    Outcome.UNCHANGED: ItemOutcome.UNCHANGED,
}


@dataclass
class ImportReport:
    """Counts of every result; the first failures and skips; and, if asked, the first
    `keep_items` results of any kind in input order."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    """(line, reason) of failed and skipped rows, the first MAX_REPORTED_FAILURES of them."""
    keep_items: int = 0
    items: list[ImportedItem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed + self.skipped

    @property
    def items_truncated(self) -> bool:
        return self.rows > len(self.items)

    def fail(self, line: int, reason: str) -> None:
        if is_skip(reason):
            self.skipped += 1
        else:
            self.failed += 1
        if len(self.failures) < MAX_REPORTED_FAILURES:
            self.failures.append((line, reason))
        if len(self.items) < self.keep_items:
            self.items.append(ImportedItem.not_stored(line, reason))

    def count(self, line: int, result: ItemResult) -> None:
        if result.error is not None:
            self.fail(line, result.error.message)
            return
        outcome = result.outcome
        if outcome is Outcome.CREATED:
            self.created += 1
        elif outcome is Outcome.UPDATED:
            self.updated += 1
        else:
            self.unchanged += 1
        if len(self.items) < self.keep_items and result.indicator is not None:
            stored = result.indicator
            self.items.append(
                ImportedItem(
                    line,
                    _OUTCOMES[outcome],
                    stored.fields.indicator_type.value,
                    stored.fields.value,
                    stored.id,
                )
            )


Progress = Callable[[ImportReport], None]


def import_rows(
    service: IndicatorService,
    rows: Iterable[ParsedRow],
    principal: Principal,
    *,
    chunk_size: int = 5_000,
    override_justification: str | None = None,
    on_chunk: Progress | None = None,
    keep_items: int = 0,
    commit_behind: bool = False,
    first_chunk: int | None = None,
) -> ImportReport:
    """Store every valid row; report every bad one by line number. Streams in bounded memory.

    With `keep_items`, the report also lists the first that many results of any kind, in input
    order (the portal and the API show them item by item). `first_chunk` rows go first when
    given (a smaller first chunk starts storing sooner while another process reads the rest).
    With `commit_behind`, each chunk
    commits in a background thread while the next chunk is read (IndicatorService.
    import_batches; for the SQL store): the same transactions, results and report."""
    report = ImportReport(keep_items=keep_items)
    iterator = iter(rows)
    if commit_behind:
        chunks = _chunks_of_drafts(iterator, chunk_size, override_justification, first_chunk)
        for chunk, results in service.import_batches(chunks, principal):
            _count_chunk(report, chunk, results)
            del chunk, results  # gone when on_chunk runs (it may collect garbage)
            if on_chunk is not None:
                on_chunk(report)
        return report
    for size in _chunk_sizes(chunk_size, first_chunk):
        chunk = list(islice(iterator, size))
        if not chunk:
            break
        drafts = _drafts(chunk, override_justification)
        results = service.import_batch(drafts, principal, max_batch=len(drafts) or 1)
        _count_chunk(report, chunk, results)
        del chunk, drafts, results  # gone when on_chunk runs (it may collect garbage)
        if on_chunk is not None:
            on_chunk(report)
    return report


def _drafts(chunk: list[ParsedRow], override_justification: str | None) -> list[IndicatorDraft]:
    return [
        IndicatorDraft(parsed, None, override_justification)
        for _, parsed in chunk
        if not isinstance(parsed, str)
    ]


def _chunks_of_drafts(
    rows: Iterator[ParsedRow],
    chunk_size: int,
    override_justification: str | None,
    first_chunk: int | None,
) -> Iterator[tuple[list[ParsedRow], list[IndicatorDraft]]]:
    for size in _chunk_sizes(chunk_size, first_chunk):
        chunk = list(islice(rows, size))
        if not chunk:
            return
        yield chunk, _drafts(chunk, override_justification)


def _chunk_sizes(chunk_size: int, first_chunk: int | None) -> Iterator[int]:
    """`first_chunk` rows first when given, then whole chunks."""
    yield max(1, first_chunk or chunk_size)
    while True:
        yield chunk_size


def _count_chunk(report: ImportReport, chunk: list[ParsedRow], results: list[ItemResult]) -> None:
    """Every row of a stored chunk counted, in order: the failures from parsing, and the
    results of the valid rows (one each, in the same order)."""
    stored = iter(results)
    count, fail = report.count, report.fail
    for line, parsed in chunk:
        if isinstance(parsed, str):
            fail(line, parsed)
        else:
            count(line, next(stored))


def report_to_wire(report: ImportReport) -> dict[str, Any]:
    """The JSON form of a finished import: counts, then the kept results item by item."""
    return {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": report.failed,
        "skipped": report.skipped,
        "items": [item_to_wire(item) for item in report.items],
        "itemsTruncated": report.items_truncated,
    }
