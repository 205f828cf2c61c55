"""The Indicators table's tabs and filters, read from the query string into a domain query.

The filters build the same `domain.query` trees the API's OData parser produces, so the store
does the work (with its indexes where it has them): tab -> `indicatorType in (...)`, action,
severity, creator -> `eq`, device group -> `rbacGroupNames/any(g: g eq ...)`, expiry ->
`expirationTime le <now + n days>` (or `eq null` for "never"), and the text search -> an exact
match on the canonical value when the text is a whole indicator value (an index lookup), else
`contains` on value and title.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import Request

from iocd.domain.query import (
    And,
    AnyEq,
    Compare,
    Expr,
    In,
    IndicatorQuery,
    Op,
    Or,
    StringFunction,
    Text,
)
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.domain.values import detect_type, normalise
from iocd.errors import InvalidInput

TABS: dict[str, tuple[str, tuple[IndicatorType, ...]]] = {
    "all": ("All", tuple(IndicatorType)),
    "files": (
        "File hashes",
        (IndicatorType.FILE_SHA256, IndicatorType.FILE_SHA1, IndicatorType.FILE_MD5),
    ),
    "ips": ("IP addresses", (IndicatorType.IP_ADDRESS,)),
    "web": ("URLs and domains", (IndicatorType.URL, IndicatorType.DOMAIN_NAME)),
    "certificates": ("Certificates", (IndicatorType.CERTIFICATE_THUMBPRINT,)),
}
EXPIRY_CHOICES = {
    "": "Any expiry",
    "1d": "Expires within a day",
    "7d": "Expires within 7 days",
    "30d": "Expires within 30 days",
    "never": "Never expires",
}
SORTABLE = {"id": "Id", "indicatorValue": "Value"}
"""Sorting uses the store's indexes only: id, and value (the active identity index). Title is
not sortable: an index on it would slow every import for a convenience."""
"""Columns the table sorts by, each read in index order by the store (id: the primary key; value:
the active identity index; title: its own partial index), so a sorted page of a million
indicators reads one page of rows. The other columns are filters instead."""
FILTER_PARAMS = ("tab", "action", "severity", "creator", "group", "expires", "q")
MAX_SEARCH = 4096


@dataclass(frozen=True, slots=True)
class Filters:
    """The table's filters as chosen (unknown values are dropped, never an error page)."""

    tab: str = "all"
    action: str = ""
    severity: str = ""
    creator: str = ""
    group: str = ""
    expires: str = ""
    q: str = ""

    @classmethod
    def read(cls, request: Request) -> Filters:
        p = request.query_params
        tab = p.get("tab", "all")
        action = p.get("action", "")
        severity = p.get("severity", "")
        expires = p.get("expires", "")
        return cls(
            tab=tab if tab in TABS else "all",
            action=action if action in {a.value for a in Action} else "",
            severity=severity if severity in {s.value for s in Severity} else "",
            creator=p.get("creator", "").strip()[:256],
            group=p.get("group", "").strip()[:256],
            expires=expires if expires in EXPIRY_CHOICES else "",
            q=p.get("q", "").strip()[:MAX_SEARCH],
        )

    @property
    def types(self) -> tuple[IndicatorType, ...]:
        return TABS[self.tab][1]

    @property
    def active(self) -> bool:
        """Whether any filter beyond the tab is set."""
        return any((self.action, self.severity, self.creator, self.group, self.expires, self.q))

    def params(self, *, tab: str | None = None) -> list[tuple[str, str]]:
        values = {
            "tab": self.tab if tab is None else tab,
            "action": self.action,
            "severity": self.severity,
            "creator": self.creator,
            "group": self.group,
            "expires": self.expires,
            "q": self.q,
        }
        return [(k, v) for k, v in values.items() if v and not (k == "tab" and v == "all")]

    def url(self, path: str = "/indicators", *, tab: str | None = None) -> str:
        params = self.params(tab=tab)
        return f"{path}?{urlencode(params)}" if params else path

    def where(self, now: datetime) -> Expr | None:
        terms: list[Expr] = []
        if self.tab != "all":
            kinds = tuple(t.value for t in self.types)
            terms.append(
                Compare("indicatorType", Op.EQ, kinds[0])
                if len(kinds) == 1
                else In("indicatorType", kinds)
            )
        if self.action:
            terms.append(Compare("action", Op.EQ, self.action))
        if self.severity:
            terms.append(Compare("severity", Op.EQ, self.severity))
        if self.creator:
            terms.append(Compare("createdBy", Op.EQ, self.creator))
        if self.group:
            terms.append(AnyEq("rbacGroupNames", self.group))
        if self.expires == "never":
            terms.append(Compare("expirationTime", Op.EQ, None))
        elif self.expires:
            days = int(self.expires.removesuffix("d"))
            terms.append(Compare("expirationTime", Op.LE, now + timedelta(days=days)))
        if self.q:
            terms.append(search_expr(self.q, self.types))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def query(self, now: datetime, **paging: object) -> IndicatorQuery:
        return IndicatorQuery(where=self.where(now), **paging)  # type: ignore[arg-type]


def search_expr(text: str, types: tuple[IndicatorType, ...]) -> Expr:
    """A whole indicator value -> its canonical value (indexed); else contains on value/title."""
    try:
        kind = detect_type(text)
        # A certificate thumbprint looks like a SHA-1 and is stored the same way.
        certificates = IndicatorType.CERTIFICATE_THUMBPRINT in types
        if kind in types or (kind is IndicatorType.FILE_SHA1 and certificates):
            return Compare("indicatorValue", Op.EQ, normalise(kind, text))
    except InvalidInput:
        pass
    return Or(
        (
            Text(StringFunction.CONTAINS, "indicatorValue", text),
            Text(StringFunction.CONTAINS, "title", text),
        )
    )
