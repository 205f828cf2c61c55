"""Imports started from the portal run in a background thread, one per job, keyed by an
unguessable id; the job page polls until the job is done.

A job reads the uploaded file (copied to a temporary file first: the request's upload is gone
once the response is sent) through the reader `codecs.import_formats` chose and
`services.imports`, in committed chunks, and keeps: the running report (counts, the failed and
skipped items with reasons, and the first MAX_KEPT results of any kind) and the bytes read so
far. The registry keeps the last MAX_JOBS jobs, in memory: a restart forgets them (the imported
indicators stay).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from iocd.codecs.rows import ParsedItem, as_parsed_rows
from iocd.domain.import_results import ImportedItem, ItemOutcome
from iocd.domain.principal import Principal
from iocd.services.imports import ImportReport, import_rows
from iocd.services.indicators import IndicatorService

MAX_JOBS = 50
MAX_KEPT = 10_000
CHUNK_ROWS = 1_000
"""Rows per committed chunk: small enough that the progress moves every second or so."""

Reader = Callable[[BinaryIO], Iterable[ParsedItem]]
log = logging.getLogger("iocd.imports")


@dataclass
class ImportJob:
    id: str
    owner: str
    file_name: str
    total_bytes: int
    started: datetime
    report: ImportReport = field(default_factory=ImportReport)
    position: int = 0
    done: bool = False
    error: str | None = None
    unit: str = "Line"
    """What the file's items are called: Line (CSV, lists) or Item (STIX, MISP)."""

    def view(self) -> JobView:
        """The job as of now, read once: `done` first, so a finished view always holds the
        final report (the thread sets the report, then `done`). A page that read `done` and
        the report separately could show a job that just finished with the empty report it
        started with, and stop refreshing."""
        done = self.done
        report = self.report
        if done:
            percent = 100
        elif self.total_bytes:
            percent = min(99, self.position * 100 // self.total_bytes)
        else:
            percent = 0
        return JobView(done, percent, report, self.error if done else None)


@dataclass(frozen=True)
class JobView:
    """One consistent reading of an ImportJob, for a page or a status answer."""

    done: bool
    percent: int
    report: ImportReport
    error: str | None

    def results(self) -> list[ImportedItem]:
        """Failed items first, then skipped ones, then the stored ones, each by number
        (none until the job is done)."""
        if not self.done:
            return []
        not_stored = [ImportedItem.not_stored(n, reason) for n, reason in self.report.failures]
        stored = [i for i in self.report.items if i.outcome not in _NOT_STORED]
        return sorted(not_stored, key=_failed_first) + sorted(stored, key=lambda i: i.number)


_NOT_STORED = frozenset({ItemOutcome.FAILED, ItemOutcome.SKIPPED})


def _failed_first(item: ImportedItem) -> tuple[bool, int]:
    return item.outcome is ItemOutcome.SKIPPED, item.number


class ImportJobs:
    """The jobs of one portal process."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str, principal: Principal) -> ImportJob | None:
        """The job, if it exists and this user started it."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.owner == principal.name else None

    def start(
        self,
        service: IndicatorService,
        principal: Principal,
        path: Path,
        file_name: str,
        reader: Reader,
        started: datetime,
        override_justification: str | None = None,
        *,
        unit: str = "Line",
    ) -> ImportJob:
        job = ImportJob(
            secrets.token_urlsafe(16),
            principal.name,
            file_name,
            path.stat().st_size,
            started,
            unit=unit,
        )
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
        thread = threading.Thread(
            target=_run,
            args=(job, service, principal, path, reader, override_justification),
            name=f"import-{job.id[:6]}",
            daemon=True,
        )
        thread.start()
        return job


def _run(
    job: ImportJob,
    service: IndicatorService,
    principal: Principal,
    path: Path,
    reader: Reader,
    override_justification: str | None,
) -> None:
    try:
        with path.open("rb") as stream:

            def progress(report: ImportReport) -> None:
                job.report = report
                job.position = stream.tell()

            job.report = import_rows(
                service,
                as_parsed_rows(reader(stream)),
                principal,
                chunk_size=CHUNK_ROWS,
                override_justification=override_justification,
                on_chunk=progress,
                keep_items=MAX_KEPT,
            )
    except BaseException as error:  # shown on the job page rather than lost in a thread
        # BaseException too: a job that ends for any reason never looks like an empty import.
        log.exception("import %s of %s stopped", job.id[:6], job.file_name)
        job.error = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    finally:
        job.position = job.total_bytes
        try:
            os.unlink(path)  # before `done`: a finished job has left nothing behind
        except OSError as error:
            log.warning("import %s: could not remove its copy of the upload: %s", job.id[:6], error)
        job.done = True
