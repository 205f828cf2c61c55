"""Import (`/indicators/import`) and the sample CSV (`/indicators/template.csv`).

The upload is copied to a temporary file, then imported by a background job (pages.indicators
.jobs); the browser goes to `/indicators/import/{job}`, which refreshes itself every second
(a meta refresh without JavaScript; with it, a fetch of `/indicators/import/{job}.json`) until
the job is done, then shows the summary and every item's result, failed and skipped items
first, paged. The format and its options are read by `codecs.import_formats`, as the CLI and the
API read them.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from iocd.codecs.ahead import RowReader
from iocd.codecs.csv import write_template
from iocd.codecs.import_formats import (
    SNIFF_BYTES,
    ImportFormat,
    ImportOptions,
    choose_reader,
    detect_format,
    parse_format,
)
from iocd.domain.import_results import item_to_wire
from iocd.domain.principal import Principal
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.web.deps import CurrentUser, instance, redirect, render
from iocd.web.pages.indicators.editing import allowed_groups
from iocd.web.pages.indicators.form import problem_text
from iocd.web.pages.indicators.jobs import ImportJob, ImportJobs
from iocd.web.pages.indicators.labels import TYPE_LABELS, can_write

router = APIRouter()
RESULTS_PAGE = 100
FORMATS = {
    "auto": "Detect from the file",
    "csv": "CSV (MDE columns)",
    "list": "Plain list",
    "stix": "STIX 2.1 bundle",
    "misp": "MISP event",
}


def _jobs(request: Request) -> ImportJobs:
    state = request.app.state
    if not hasattr(state, "import_jobs"):
        state.import_jobs = ImportJobs()
    jobs: ImportJobs = state.import_jobs
    return jobs


def _page(
    request: Request,
    user: Principal,
    status_code: int = 200,
    error: str | None = None,
    **form: object,
) -> Response:
    return render(
        request,
        "indicators/import.html",
        status_code=status_code,
        nav="indicators",
        title="Import indicators",
        formats=FORMATS,
        types=list(IndicatorType),
        type_labels=TYPE_LABELS,
        actions=list(Action),
        severities=list(Severity),
        groups=allowed_groups(request, user),
        can_write=can_write(user),
        form={"format": "auto", "action": "Audit", **form},
        error=error,
    )


@router.get("/indicators/template.csv")
def template(user: CurrentUser) -> Response:
    out = io.StringIO()
    write_template(out)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="iocd-indicators-sample.csv"'},
    )


@router.get("/indicators/import")
def import_page(request: Request, user: CurrentUser) -> Response:
    return _page(request, user)


def _options(form: FormData) -> ImportOptions:
    def text(name: str) -> str | None:
        return str(form.get(name) or "").strip() or None

    return ImportOptions(
        action=text("action") or "Audit",
        severity=text("severity"),
        expires=text("expires"),
        groups=tuple(str(g) for g in form.getlist("groups")),
        indicator_type=text("list_type"),
        title=text("list_title"),
        description=text("list_description"),
        include_non_ids=form.get("include_non_ids") == "on",
    )


def _reader(
    request: Request, form: FormData, path: Path, file_name: str
) -> tuple[ImportFormat, RowReader]:
    named = parse_format(str(form.get("format") or "auto"))
    if named is None:
        with path.open("rb") as head:
            named = detect_format(head.read(SNIFF_BYTES))
    iocd = instance(request)
    reader = choose_reader(
        named,
        _options(form),
        source_name=file_name,
        now=iocd.clock.now(),
        known_benign=iocd.reference.reason,
    )
    return named, reader


@router.post("/indicators/import")
async def start_import(request: Request, user: CurrentUser) -> Response:
    form = await request.form()
    try:
        try:
            copied = await _copy_upload(form.get("file"))
        except InvalidInput as error:
            return _page(request, user, 400, error=problem_text(error))
        return _start(request, user, form, copied)
    finally:
        await form.close()  # the upload's temporary file; the job reads its own copy


async def _copy_upload(upload: object) -> Path | None:
    """The upload copied to a file of its own (flushed, so the job thread can read it by
    path), through the upload's own async reads; None when no file was chosen. A copy shorter
    than what the form parser received is an error, never an import of part of a file."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    await upload.seek(0)  # from the start, wherever the form parser left the spooled upload
    written = 0
    with tempfile.NamedTemporaryFile("wb", suffix=".import", delete=False) as copy:
        while block := await upload.read(1 << 20):
            copy.write(block)
            written += len(block)
        copy.flush()
        os.fsync(copy.fileno())
        path = Path(copy.name)
    if written == 0:
        path.unlink()
        raise InvalidInput("file", "the file is empty: there is nothing to import")
    if upload.size is not None and written != upload.size:
        path.unlink()
        raise InvalidInput("file", f"the upload was read short ({written} of {upload.size} bytes)")
    return path


def _start(request: Request, user: Principal, form: FormData, path: Path | None) -> Response:
    upload = form.get("file")
    shown: dict[str, object] = {
        k: str(v) for k, v in form.items() if k not in ("file", "csrf_token", "groups")
    }
    shown["groups"] = [str(g) for g in form.getlist("groups")]
    if path is None:
        return _page(request, user, 400, error="Choose a file to import.", **shown)
    name = str(getattr(upload, "filename", "") or "upload")
    iocd = instance(request)
    importer = user.via("Import")
    try:
        named, reader = _reader(request, form, path, name)
        iocd.indicators.check_import(importer, _options(form).groups_for(named))
    except (InvalidInput, Forbidden) as error:
        path.unlink()
        if isinstance(error, Forbidden):
            return _page(request, user, 403, error=error.message, **shown)
        return _page(request, user, 400, error=problem_text(error), **shown)
    justification = str(form.get("justification") or "").strip() or None
    job = _jobs(request).start(
        iocd.indicators,
        importer,
        path,
        name,
        reader,
        iocd.clock.now(),
        justification,
        unit="Item" if named.is_document else "Line",
    )
    return redirect(f"/indicators/import/{job.id}")


def _job(request: Request, user: Principal, job_id: str) -> ImportJob:
    job = _jobs(request).get(job_id, user)
    if job is None:
        raise NotFound(f"there is no import {job_id} of yours (imports are kept until restart)")
    return job


@router.get("/indicators/import/{job_id}.json")
def job_status(request: Request, user: CurrentUser, job_id: str) -> JSONResponse:
    state = _job(request, user, job_id).view()
    r = state.report
    return JSONResponse(
        {
            "done": state.done,
            "percent": state.percent,
            "rows": r.rows,
            "created": r.created,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "failed": r.failed,
            "skipped": r.skipped,
            "error": state.error,
            "items": [item_to_wire(i) for i in state.results()] if state.done else None,
        }
    )


@router.get("/indicators/import/{job_id}")
def job_page(request: Request, user: CurrentUser, job_id: str, offset: int = 0) -> Response:
    job = _job(request, user, job_id)
    state = job.view()  # read once: the job may finish while this page renders
    results = state.results()
    offset = max(0, min(offset, max(len(results) - 1, 0)))
    base = f"/indicators/import/{job_id}"
    return render(
        request,
        "indicators/import_job.html",
        nav="indicators",
        title="Import results" if state.done else "Importing…",
        job=job,
        state=state,
        results=results[offset : offset + RESULTS_PAGE],
        offset=offset,
        total_results=len(results),
        previous_url=f"{base}?offset={max(offset - RESULTS_PAGE, 0)}" if offset else None,
        next_url=(
            f"{base}?offset={offset + RESULTS_PAGE}"
            if offset + RESULTS_PAGE < len(results)
            else None
        ),
        status_url=f"{base}.json",
    )
