"""Listing as MDE clients do it: nextLink paging in a stable order, $count, and $filter expressions
sent fully percent-encoded, with doubled quotes, URLs, datetimes, long `or` chains and `in`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest

from tests.api.api_support import JSON, LiveApi, StartApi, assert_mde_error, body, sha256, unique

ROWS = 250
PAGE = 37


def page_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    return response.json()


def follow(api: LiveApi, headers: dict[str, str], first: str) -> list[dict[str, Any]]:
    """Every page from `first`, following @odata.nextLink until it is absent (as clients do)."""
    pages = [page_of(api.http.get(first, headers=headers))]
    while "@odata.nextLink" in pages[-1]:
        link = pages[-1]["@odata.nextLink"]
        assert link.startswith(api.base_url + "/")  # absolute
        pages.append(page_of(api.http.get(link, headers=headers)))
        assert len(pages) < 1000
    return pages


def raw_filter(api: LiveApi, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    """The rows of GET /api/indicators?<query>, the query string sent exactly as given."""
    return page_of(api.http.get(f"/api/indicators?{query}", headers=headers))["value"]


def encoded(expression: str) -> str:
    """`$filter=<expression>` encoded in full as .NET clients do: %24, '+' for spaces."""
    return "%24filter=" + quote_plus(expression, safe="")


# -- paging (a server of its own, so the totals are known) ----------------------------------------


@pytest.fixture(scope="module")
def paged(start_api: StartApi) -> tuple[LiveApi, dict[str, str], list[str]]:
    api = start_api()
    headers = api.app_headers()
    items = [body(severity="High" if n % 3 == 0 else "Low") for n in range(ROWS)]
    response = api.http.post("/api/indicators/import", json={"Indicators": items}, headers=headers)
    value = page_of(response)["value"]
    assert not any(v["isFailed"] for v in value)
    return api, headers, [v["id"] for v in value]


@pytest.mark.parametrize("prefix", ["/api", "/api/v1.0"])
def test_next_link_collects_every_row_exactly_once(paged: tuple, prefix: str) -> None:
    api, headers, ids = paged
    pages = follow(api, headers, f"{prefix}/indicators?$top={PAGE}")
    assert [len(p["value"]) for p in pages] == [PAGE] * (ROWS // PAGE) + [ROWS % PAGE]
    got = [row["id"] for p in pages for row in p["value"]]
    assert got == sorted(ids, key=int)  # stable order by id, each row exactly once
    assert "@odata.nextLink" not in pages[-1]
    assert all(urlsplit(p["@odata.nextLink"]).path == f"{prefix}/indicators" for p in pages[:-1])


def test_top_and_skip_give_stable_pages(paged: tuple) -> None:
    api, headers, ids = paged
    ordered = sorted(ids, key=int)
    for skip in (0, 1, 36, 37, 200, 249, 250, 400):
        first = page_of(
            api.http.get(
                "/api/indicators", params={"$top": "37", "$skip": str(skip)}, headers=headers
            )
        )
        again = page_of(
            api.http.get(
                "/api/indicators", params={"$skip": str(skip), "$top": "37"}, headers=headers
            )
        )
        assert first["value"] == again["value"]
        assert [r["id"] for r in first["value"]] == ordered[skip : skip + 37]
        assert ("@odata.nextLink" in first) == (skip + 37 < ROWS)


def test_without_top_one_page_holds_everything_here(paged: tuple) -> None:
    api, headers, _ids = paged
    got = page_of(api.http.get("/api/indicators/", headers=headers))
    assert len(got["value"]) == ROWS
    assert "@odata.nextLink" not in got


def test_exact_last_page_has_no_next_link(paged: tuple) -> None:
    api, headers, _ = paged
    pages = follow(api, headers, "/api/indicators?$top=50")
    assert [len(p["value"]) for p in pages] == [50] * 5
    assert "@odata.nextLink" not in pages[-1]


def test_count_and_next_link_repeating_the_filter(paged: tuple) -> None:
    api, headers, _ids = paged
    expression = "severity eq 'High' and indicatorType eq 'FileSha256'"
    first = f"/api/indicators?{encoded(expression)}&%24count=true&%24top=10"
    pages = follow(api, headers, first)
    high = ROWS // 3 + 1
    counts = [p["@odata.count"] for p in pages]
    assert counts == [high] * len(pages), "@odata.count is the total on every page"
    rows = [r for p in pages for r in p["value"]]
    assert len(rows) == high
    assert len({r["id"] for r in rows}) == high
    assert all(r["severity"] == "High" for r in rows)
    for p in pages[:-1]:
        query = parse_qs(urlsplit(p["@odata.nextLink"]).query)
        assert query["$filter"] == [expression]
        assert query["$count"] == ["true"]
        assert query["$top"] == ["10"]


def test_count_without_paging(paged: tuple) -> None:
    api, headers, _ = paged
    got = page_of(
        api.http.get("/api/indicators", params={"$count": "true", "$top": "0"}, headers=headers)
    )
    assert got["@odata.count"] == ROWS
    assert got["value"] == []


# -- filters (the shared server; each test filters on values of its own) --------------------------


def test_fully_encoded_filter_with_doubled_quotes(api: LiveApi, headers: dict) -> None:
    title = f"O'Brien's {unique()} & co = 100%?"
    created = api.submit(headers, title=title)
    expression = "title eq '" + title.replace("'", "''") + "'"
    assert [r["id"] for r in raw_filter(api, headers, encoded(expression))] == [created["id"]]
    # the same with %20 for spaces and '$' left as it is
    plain = "$filter=" + quote(expression, safe="")
    assert [r["id"] for r in raw_filter(api, headers, plain)] == [created["id"]]


def test_url_values_with_query_characters(api: LiveApi, headers: dict) -> None:
    url = f"https://{unique('evil')}.example.com/dl?file=a.exe&token=x%3Dy&z="
    created = api.submit(headers, indicatorType="Url", indicatorValue=url)
    expression = f"indicatorValue eq '{created['indicatorValue']}'"
    assert [r["id"] for r in raw_filter(api, headers, encoded(expression))] == [created["id"]]
    # '?', '&' and '=' left raw inside the quoted literal, among other options
    bare = f"https://{unique('bare')}.example.com/get?a=1&b=&c==2"
    other = api.submit(headers, indicatorType="Url", indicatorValue=bare)
    loose = f"$top=5&$filter=indicatorValue eq '{other['indicatorValue']}'&$skip=0"
    assert [r["id"] for r in raw_filter(api, headers, loose)] == [other["id"]]


def test_ge_against_an_unquoted_datetime(api: LiveApi, headers: dict) -> None:
    title = unique("dates")
    early = api.submit(headers, title=title, expirationTime="2090-06-01T00:00:00Z")
    late = api.submit(headers, title=title, expirationTime="2095-06-01T12:30:00.5Z")
    never = api.submit(headers, title=title)
    cases = {
        "expirationTime ge 2093-01-01T00:00:00Z": [late["id"]],
        "expirationTime ge 2090-06-01T00:00:00Z": [early["id"], late["id"]],
        "expirationTime lt 2093-01-01T00:00:00.0000000Z": [early["id"]],
        "expirationTime eq null": [never["id"]],
        "creationTimeDateTimeUtc ge 2000-01-01T00:00:00Z": [early["id"], late["id"], never["id"]],
        "lastUpdateTime ge 2999-01-01T00:00:00+02:00": [],
    }
    for condition, expected in cases.items():
        expression = f"title eq '{title}' and {condition}"
        got = [r["id"] for r in raw_filter(api, headers, encoded(expression))]
        assert got == expected, condition


def test_twenty_ored_eq(api: LiveApi, headers: dict) -> None:
    created = [api.submit(headers) for _ in range(20)]
    others = [api.submit(headers) for _ in range(3)]
    expression = " or ".join(f"indicatorValue eq '{c['indicatorValue']}'" for c in created)
    got = [r["id"] for r in raw_filter(api, headers, encoded(expression))]
    assert got == [c["id"] for c in created]
    assert not {o["id"] for o in others} & set(got)


@pytest.mark.parametrize(("opening", "closing"), [("(", ")"), ("[", "]")])
def test_in_with_parentheses_and_brackets(
    api: LiveApi, headers: dict, opening: str, closing: str
) -> None:
    created = [api.submit(headers) for _ in range(3)]
    api.submit(headers)
    values = ", ".join(f"'{c['indicatorValue'].upper()}'" for c in created)
    expression = f"indicatorValue in {opening}{values}, '{sha256()}'{closing}"
    got = [r["id"] for r in raw_filter(api, headers, encoded(expression))]
    assert got == [c["id"] for c in created]
    ids = ",".join(c["id"] for c in created[:2])
    got = [r["id"] for r in raw_filter(api, headers, encoded(f"id in {opening}{ids}{closing}"))]
    assert got == [c["id"] for c in created[:2]]


def test_rbac_group_names_any(api: LiveApi, headers: dict) -> None:
    first, second = api.group(), api.group()
    only_first = api.submit(headers, rbacGroupNames=[first])
    both = api.submit(headers, rbacGroupNames=[first, second])
    only_second = api.submit(headers, rbacGroupNames=[second])
    expression = f"rbacGroupNames/any(g: g eq '{first}')"
    assert [r["id"] for r in raw_filter(api, headers, encoded(expression))] == [
        only_first["id"],
        both["id"],
    ]
    expression = f"rbacGroupNames/any(x: x eq '{first}' or x eq '{second}')"
    assert [r["id"] for r in raw_filter(api, headers, encoded(expression))] == [
        only_first["id"],
        both["id"],
        only_second["id"],
    ]


def test_string_functions_and_not(api: LiveApi, headers: dict) -> None:
    stem = unique("fn")
    a = api.submit(headers, title=f"{stem} alpha")
    b = api.submit(headers, title=f"{stem} beta")
    cases = {
        f"startswith(title, '{stem}')": [a["id"], b["id"]],
        f"startswith(title, '{stem}') and endswith(title, 'beta')": [b["id"]],
        f"contains(title, '{stem}') and not (title eq '{stem} beta')": [a["id"]],
        f"startswith(title, '{stem}') and action eq 'Block' and severity ne 'Low'": [
            a["id"],
            b["id"],
        ],
    }
    for expression, expected in cases.items():
        assert [r["id"] for r in raw_filter(api, headers, encoded(expression))] == expected


def test_orderby_with_ties_broken_by_id(api: LiveApi, headers: dict) -> None:
    stem = unique("ord")
    made = [api.submit(headers, title=f"{stem} {n % 2}") for n in range(4)]
    got = page_of(
        api.http.get(
            "/api/indicators",
            params={"$filter": f"startswith(title, '{stem}')", "$orderby": "title desc"},
            headers=headers,
        )
    )
    expected = [made[1], made[3], made[0], made[2]]
    assert [r["id"] for r in got["value"]] == [m["id"] for m in expected]
    # nextLink keeps the order across pages
    condition = encoded(f"startswith(title, '{stem}')")
    first = f"/api/indicators?{condition}&$orderby=title+desc&$top=1"
    pages = follow(api, headers, first)
    assert [r["id"] for p in pages for r in p["value"]] == [m["id"] for m in expected]
    assert all("$orderby=title%20desc" in p["@odata.nextLink"] for p in pages[:-1])


@pytest.mark.parametrize(
    "query",
    [
        "$top=-1",
        "$top=10001",
        "$top=abc",
        "$skip=-5",
        "$count=maybe",
        "$orderby=nosuchfield",
        "$filter=title eq",
        "$filter=title eq 'a'&$filter=title eq 'b'",
    ],
)
def test_bad_query_options_are_odata_errors(api: LiveApi, headers: dict, query: str) -> None:
    response = api.http.get(f"/api/indicators?{query}", headers=headers)
    assert_mde_error(response, 400, "ODataError")
