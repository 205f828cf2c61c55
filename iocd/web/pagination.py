"""Server-side paging and sorting for tables, read from and written to the query string.

Query parameters: `sort` (a field the page allows), `dir` (`asc` or `desc`), `size` (rows per
page, one of the page's sizes), and the position: `after` (keyset: the last id of the previous
page) when the table is in its default order by id, else `offset`. Keyset paging costs the same
on the millionth row as on the first; ordered by another field, the store's keyset (greater id
only) cannot follow, so the table pages by offset. Every other parameter (filters) is kept in
every link.

Use in a page:

    paging = PageRequest.read(request, sortable={"title", "severity"})
    page = services.indicators.list(IndicatorQuery(where=..., **paging.query_args()), user)
    pager = paging.pager(request, len(page.items), page.has_more, last_id=...)
    return render(request, "x.html", rows=page.items, pager=pager)

and in the template: `{% from "macros.html" import sort_header, pager_nav %}`,
`{{ sort_header(pager, "title", "Title") }}` in the <thead>, `{{ pager_nav(pager) }}` below.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

PAGING_PARAMS = ("sort", "dir", "size", "after", "offset")
SIZES = (25, 50, 100, 200)


def _int(raw: str | None, default: int | None = None, low: int = 0) -> int | None:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value is None or value >= low else default


@dataclass(frozen=True, slots=True)
class PageRequest:
    size: int
    sort: str | None = None
    """None: the default order, by id ascending (keyset paging)."""
    descending: bool = False
    after: int | None = None
    offset: int = 0

    @classmethod
    def read(
        cls,
        request: Request,
        sortable: Collection[str] = (),
        default_size: int = 50,
        sizes: Collection[int] = SIZES,
    ) -> PageRequest:
        """The page asked for; unknown sorts, sizes and cursors fall back to the defaults."""
        params = request.query_params
        sort = params.get("sort")
        if sort not in sortable:
            sort = None
        size = _int(params.get("size"), default_size, 1) or default_size
        return cls(
            size=size if size in sizes else default_size,
            sort=sort,
            descending=params.get("dir") == "desc" and sort is not None,
            after=_int(params.get("after")) if sort is None else None,
            offset=(_int(params.get("offset"), 0) or 0) if sort is not None else 0,
        )

    @property
    def keyset(self) -> bool:
        return self.sort is None

    def query_args(self) -> dict[str, Any]:
        """Keyword arguments for IndicatorQuery / AlertQuery: order_by, skip, top, after_id."""
        order = () if self.sort is None else ((self.sort, self.descending),)
        return {"order_by": order, "skip": self.offset, "top": self.size, "after_id": self.after}

    def pager(
        self, request: Request, shown: int, has_more: bool, last_id: int | None = None
    ) -> Pager:
        """Links for the page just read: `shown` rows, whether more follow, and the last row's
        id (needed for the next keyset page)."""
        return Pager(self, request.url.path, _kept(request), shown, has_more, last_id)


def _kept(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING_PARAMS]


@dataclass(frozen=True, slots=True)
class Pager:
    """What a template needs to draw sortable headers and page links."""

    page: PageRequest
    path: str
    kept: list[tuple[str, str]]
    shown: int
    has_more: bool
    last_id: int | None

    def _url(self, **paging: Any) -> str:
        params = list(self.kept)
        params += [(k, str(v)) for k, v in paging.items() if v is not None and v != ""]
        return f"{self.path}?{urlencode(params)}" if params else self.path

    def _order(self) -> dict[str, Any]:
        p = self.page
        if p.sort is None:
            return {"size": p.size}
        return {"sort": p.sort, "dir": "desc" if p.descending else "asc", "size": p.size}

    @property
    def first_url(self) -> str | None:
        """None on the first page."""
        p = self.page
        return self._url(**self._order()) if (p.after or p.offset) else None

    @property
    def previous_url(self) -> str | None:
        """Offset paging only (a keyset page knows no way back but the first page)."""
        p = self.page
        if p.keyset or p.offset == 0:
            return None
        return self._url(**self._order(), offset=max(p.offset - p.size, 0) or None)

    @property
    def next_url(self) -> str | None:
        p = self.page
        if not self.has_more:
            return None
        if p.keyset:
            return self._url(**self._order(), after=self.last_id) if self.last_id else None
        return self._url(**self._order(), offset=p.offset + p.size)

    @property
    def range_text(self) -> str:
        if self.shown == 0:
            return "No rows"
        if self.page.keyset:
            return f"{self.shown:,} rows" + (" (more follow)" if self.has_more else "")
        start = self.page.offset + 1
        return f"Rows {start:,}–{start + self.shown - 1:,}"

    def sort_url(self, field: str) -> str:
        """Sort by `field`, ascending first, then descending; back to the first page."""
        p = self.page
        descending = p.sort == field and not p.descending
        return self._url(sort=field, dir="desc" if descending else "asc", size=p.size)

    def aria_sort(self, field: str) -> str:
        if self.page.sort != field:
            return "none"
        return "descending" if self.page.descending else "ascending"

    def size_url(self, size: int) -> str:
        p = self.page
        if p.sort is None:
            return self._url(size=size)
        return self._url(sort=p.sort, dir="desc" if p.descending else "asc", size=size)
