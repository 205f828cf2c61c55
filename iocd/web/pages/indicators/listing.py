"""The Indicators table (`/indicators`), deleting a selection, and the CSV export.

Paging reads at most one page plus one row (never a count): in the default order by id it is
keyset paging (`after`), so the millionth row costs what the first does; other orders page by
offset. The export streams the current filter through `IndicatorService.iterate` (keyset
batches) and the CSV writer, so no list of rows is ever built.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from iocd.codecs.csv import COLUMNS, EXTRA_COLUMNS, fields_to_cells
from iocd.domain.indicator import Indicator
from iocd.domain.types import Action, Severity
from iocd.errors import InvalidInput
from iocd.web.deps import CurrentUser, instance, redirect, render
from iocd.web.pages.indicators.filters import EXPIRY_CHOICES, SORTABLE, TABS, Filters
from iocd.web.pages.indicators.labels import TYPE_LABELS, can_write
from iocd.web.pagination import PageRequest

router = APIRouter()
EXPORT_FLUSH_ROWS = 500
MAX_SELECTION = 1_000


@router.get("/indicators")
def indicators_page(request: Request, user: CurrentUser) -> Response:
    iocd = instance(request)
    filters = Filters.read(request)
    paging = PageRequest.read(request, sortable=SORTABLE)
    query = filters.query(iocd.clock.now(), **paging.query_args())
    page = iocd.indicators.list(query, user)
    last_id = page.items[-1].id if page.items else None
    pager = paging.pager(request, len(page.items), page.has_more, last_id=last_id)
    return render(
        request,
        "indicators/list.html",
        nav="indicators",
        title="Indicators",
        rows=page.items,
        pager=pager,
        filters=filters,
        tab_label=TABS[filters.tab][0],
        tabs=[(key, label, filters.url(tab=key)) for key, (label, _) in TABS.items()],
        sortable=SORTABLE,
        actions=list(Action),
        severities=list(Severity),
        expiry_choices=EXPIRY_CHOICES,
        groups=[g.name for g in iocd.accounts.list_groups(user)],
        type_labels=TYPE_LABELS,
        export_url=filters.url("/indicators/export.csv"),
        can_write=can_write(user),
        now=iocd.clock.now(),
    )


def _selected(values: list[str]) -> list[int]:
    ids = [int(v) for v in values if v.isdigit()]
    if not ids:
        raise InvalidInput("ids", "select at least one indicator")
    if len(ids) > MAX_SELECTION:
        raise InvalidInput("ids", f"select at most {MAX_SELECTION:,} indicators at a time")
    return list(dict.fromkeys(ids))


@router.post("/indicators/delete")
async def delete_selected(request: Request, user: CurrentUser) -> Response:
    """First POST (from the table): the confirmation step; with `confirm=yes`: delete them."""
    form = await request.form()
    ids = _selected([str(v) for v in form.getlist("ids")])
    back = str(form.get("back") or "/indicators")
    back = back if back.startswith("/indicators") else "/indicators"
    iocd = instance(request)
    if form.get("confirm") != "yes":
        rows = [iocd.indicators.get(i, user) for i in ids]
        return render(
            request,
            "indicators/confirm_delete.html",
            nav="indicators",
            title="Delete indicators",
            rows=rows,
            type_labels=TYPE_LABELS,
            back=back,
            after=back,
        )
    iocd.indicators.delete_many(ids, user)
    plural = "" if len(ids) == 1 else "s"
    return redirect(back, flash=f"{len(ids):,} indicator{plural} deleted.", category="success")


@router.get("/indicators/export.csv")
def export(request: Request, user: CurrentUser) -> Response:
    iocd = instance(request)
    query = Filters.read(request).query(iocd.clock.now())
    rows = iocd.indicators.iterate(query, user)
    stamp = iocd.clock.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="indicators-{stamp}.csv"'},
    )


def csv_chunks(rows: Iterator[Indicator]) -> Iterator[str]:
    """The CSV (MDE columns, then iocd's extra ones) a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS)
    for n, indicator in enumerate(rows, 1):
        writer.writerow(fields_to_cells(indicator.fields, extra_columns=True))
        if n % EXPORT_FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
