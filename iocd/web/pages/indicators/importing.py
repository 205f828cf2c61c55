"""Import (`/indicators/import`) and the sample CSV (`/indicators/template.csv`).

The upload is copied to a temporary file, then imported by a background job (pages.indicators
.jobs); the browser goes to `/indicators/import/{job}`, which refreshes itself every second
(a meta refresh without JavaScript; with it, a fetch of `/indicators/import/{job}.json`) until
the job is done, then shows the summary and every row's result, failed rows first, paged.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from iocd.codecs.csv import read_csv, write_template
from iocd.codecs.plainlist import read_plain_list, sniff_format
from iocd.domain.principal import Principal
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput, NotFound
from iocd.web.deps import CurrentUser, instance, redirect, render
from iocd.web.pages.indicators.editing import allowed_groups
from iocd.web.pages.indicators.form import problem_text
from iocd.web.pages.indicators.jobs import ImportJob, ImportJobs, Reader
from iocd.web.pages.indicators.labels import TYPE_LABELS, can_write

router = APIRouter()
RESULTS_PAGE = 100
FORMATS = {"auto": "Detect from the file", "csv": "CSV (MDE columns)", "list": "Plain list"}


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


def _reader(form: FormData, chosen: str, file_name: str, user: Principal) -> Reader:
    if chosen == "csv":
        return read_csv
    kind = str(form.get("list_type") or "")
    title = str(form.get("list_title") or "").strip() or f"Imported from {file_name}"
    groups = tuple(str(g) for g in form.getlist("groups"))
    options = {
        "indicator_type": kind or None,
        "action": str(form.get("list_action") or "Audit"),
        "title": title,
        "description": str(form.get("list_description") or "").strip() or title,
        "severity": str(form.get("list_severity") or ""),
        "rbac_group_names": groups,
    }
    read_plain_list(io.BytesIO(b""), **options)  # type: ignore[arg-type]  # checks them now
    return partial(read_plain_list, **options)  # type: ignore[arg-type]


@router.post("/indicators/import")
async def start_import(request: Request, user: CurrentUser) -> Response:
    form = await request.form()
    try:
        return _start(request, user, form)
    finally:
        await form.close()  # the upload's temporary file; the job reads its own copy


def _start(request: Request, user: Principal, form: FormData) -> Response:
    upload = form.get("file")
    chosen = str(form.get("format") or "auto")
    shown = {k: str(v) for k, v in form.items() if k not in ("file", "csrf_token")}
    if not hasattr(upload, "file") or not getattr(upload, "filename", ""):
        return _page(request, user, 400, error="Choose a file to import.", **shown)
    if chosen not in FORMATS:
        chosen = "auto"
    source = upload.file  # type: ignore[union-attr]
    source.seek(0)  # from the start, wherever the form parser left the spooled upload
    with tempfile.NamedTemporaryFile("wb", suffix=".import", delete=False) as copy:
        shutil.copyfileobj(source, copy, 1 << 20)
        copy.flush()
        os.fsync(copy.fileno())  # the job thread reads it by path at once
        path = Path(copy.name)
    if chosen == "auto":
        with path.open("rb") as head:
            chosen = sniff_format(head.read(4096))
    name = str(getattr(upload, "filename", "") or "upload")
    try:
        reader = _reader(form, chosen, name, user)
    except InvalidInput as error:
        path.unlink()
        return _page(request, user, 400, error=problem_text(error), **shown)
    justification = str(form.get("justification") or "").strip() or None
    iocd = instance(request)
    job = _jobs(request).start(
        iocd.indicators,
        user.via("Import"),
        path,
        name,
        reader,
        iocd.clock.now(),
        justification,
    )
    return redirect(f"/indicators/import/{job.id}")


def _job(request: Request, user: Principal, job_id: str) -> ImportJob:
    job = _jobs(request).get(job_id, user)
    if job is None:
        raise NotFound(f"there is no import {job_id} of yours (imports are kept until restart)")
    return job


@router.get("/indicators/import/{job_id}.json")
def job_status(request: Request, user: CurrentUser, job_id: str) -> JSONResponse:
    job = _job(request, user, job_id)
    r = job.report
    return JSONResponse(
        {
            "done": job.done,
            "percent": job.percent,
            "rows": r.rows,
            "created": r.created,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "failed": r.failed,
            "error": job.error,
        }
    )


@router.get("/indicators/import/{job_id}")
def job_page(request: Request, user: CurrentUser, job_id: str, offset: int = 0) -> Response:
    job = _job(request, user, job_id)
    results = job.results() if job.done else []
    offset = max(0, min(offset, max(len(results) - 1, 0)))
    base = f"/indicators/import/{job_id}"
    return render(
        request,
        "indicators/import_job.html",
        nav="indicators",
        title="Import results" if job.done else "Importing…",
        job=job,
        report=job.report,
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
