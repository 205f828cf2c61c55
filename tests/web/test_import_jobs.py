"""A portal import job that ends early, for any reason, says why on its page: it never looks
like an import of an empty file, and its copy of the upload is removed. A page reads the job
once (ImportJob.view): a job finishing while its page renders never shows as done with the
empty report it started with."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from iocd.clock import FixedClock
from iocd.codecs.csv import read_csv
from iocd.codecs.rows import ParsedItem
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.types import IndicatorType
from iocd.services.imports import ImportReport
from iocd.web.pages.indicators.jobs import ImportJob, ImportJobs, Reader
from tests.api.api_support import ADMIN, CHEAP_HASH, START
from tests.factories import value_for

CSV = (
    "IndicatorType,IndicatorValue,Action,Title,Description\n"
    f"FileSha256,{value_for(IndicatorType.FILE_SHA256, 7_700_001)},Block,job test,first\n"
    f"FileSha256,{value_for(IndicatorType.FILE_SHA256, 7_700_002)},Audit,job test,second\n"
)


def _wait(job: ImportJob) -> ImportJob:
    for _ in range(400):
        if job.done:
            return job
        time.sleep(0.025)
    raise AssertionError("the job did not finish")


def _run(tmp_path: Path, reader: Reader) -> ImportJob:
    upload = tmp_path / "upload.import"
    upload.write_text(CSV)
    iocd = build(
        Settings(data_dir=tmp_path / "data", database_url="memory://"),
        hash_cost=CHEAP_HASH,
        clock=FixedClock(START),
    )
    job = ImportJobs().start(
        iocd.indicators,
        ADMIN.via("Import"),
        upload,
        "j.csv",
        reader,
        START,
    )
    _wait(job)
    assert not upload.exists()
    return job


def _cut_by(error: BaseException) -> Reader:
    def reader(stream: BinaryIO) -> Iterator[ParsedItem]:
        rows = read_csv(stream)
        yield next(rows)
        raise error

    return reader


def test_a_job_counts_every_row(tmp_path: Path) -> None:
    job = _run(tmp_path, read_csv)
    view = job.view()
    assert (view.report.rows, view.report.created, view.error, view.percent) == (2, 2, None, 100)
    assert [i.outcome.value for i in view.results()] == ["created", "created"]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ValueError("a broken row"), "ValueError: a broken row"),
        (SystemExit("stopping"), "SystemExit: stopping"),
        (GeneratorExit(), "GeneratorExit: "),
    ],
)
def test_a_job_that_stops_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, error: BaseException, shown: str
) -> None:
    job = _run(tmp_path, _cut_by(error))
    assert job.done and job.error == shown
    assert job.report.rows == 0  # the chunk in progress is not committed
    assert "of j.csv stopped" in caplog.text


class _FinishesWhileRead(ImportJob):
    """A job whose thread finishes (final report, then done) just after its report is read."""

    def __getattribute__(self, name: str) -> object:
        value = super().__getattribute__(name)
        if name == "report" and not super().__getattribute__("done"):
            self.report = ImportReport(created=5)
            self.done = True
        return value


def test_a_view_of_a_job_that_finishes_meanwhile_is_consistent() -> None:
    job = _FinishesWhileRead("j", "admin", "j.csv", 100, START)
    view = job.view()
    assert (view.done, view.report.rows, view.results()) == (False, 0, [])
    assert view.percent < 100  # the page keeps polling, and next time:
    again = job.view()
    assert (again.done, again.report.rows, again.percent) == (True, 5, 100)
