"""What the OData listings (`GET /api/indicators`, `GET /api/alerts`) share: reading the query
options once, and the response body with `@odata.count` and an `@odata.nextLink` that repeats
the caller's filter (keyset `$skiptoken` in the default id order, `$skip` otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request

from iocd.api.odata import (
    parse_count,
    parse_filter,
    parse_orderby,
    parse_skip,
    parse_top,
    split_query,
)
from iocd.domain.query import INDICATOR_FIELDS, Expr, FieldTable
from iocd.errors import InvalidInput

DEFAULT_PAGE = 10_000
"""Without `$top`, a page holds 10,000 rows (SPEC 7)."""


def _skiptoken(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("$skiptoken", "must be the token from an @odata.nextLink", "ODataError")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Listing:
    """The parsed options of one listing request."""

    options: dict[str, str]
    where: Expr | None
    order: tuple[tuple[str, bool], ...]
    top: int
    skip: int
    after: int | None
    count: bool

    @classmethod
    def read(cls, request: Request, table: FieldTable = INDICATOR_FIELDS) -> Listing:
        options = split_query(request.scope.get("query_string", b"").decode("latin-1"))
        order = (
            parse_orderby(options["$orderby"], table) if options.get("$orderby", "").strip() else ()
        )
        where_text = options.get("$filter", "")
        return cls(
            options,
            parse_filter(where_text, table) if where_text.strip() else None,
            order,
            parse_top(options["$top"]) if "$top" in options else DEFAULT_PAGE,
            parse_skip(options["$skip"]) if "$skip" in options else 0,
            _skiptoken(options.get("$skiptoken")) if not order else None,
            parse_count(options["$count"]) if "$count" in options else False,
        )

    def body(
        self,
        request: Request,
        entity_set: str,
        items: Sequence[Any],
        to_wire: Callable[[Any], dict[str, Any]],
        *,
        total: int | None,
        has_more: bool,
    ) -> dict[str, Any]:
        root = str(request.base_url).rstrip("/")
        body: dict[str, Any] = {"@odata.context": f"{root}/api/$metadata#{entity_set}"}
        if total is not None:
            body["@odata.count"] = total
        body["value"] = [to_wire(item) for item in items]
        if has_more and self.top > 0:
            params = {
                k: v for k, v in self.options.items() if k in ("$filter", "$orderby", "$count")
            }
            params["$top"] = str(self.top)
            if self.order:
                params["$skip"] = str(self.skip + self.top)
            else:  # id order: continue after the last id sent (keyset), however deep
                params["$skiptoken"] = str(items[-1].id)
            query_string = urlencode(params, quote_via=quote, safe="$")
            body["@odata.nextLink"] = f"{root}{request.url.path}?{query_string}"
        return body
