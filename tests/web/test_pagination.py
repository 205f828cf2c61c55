"""Paging and sorting links of portal tables (web.pagination) and the chart geometry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from iocd.web.charts import bar_chart
from iocd.web.pagination import PageRequest


def request(query: str, path: str = "/indicators") -> Request:
    return Request({"type": "http", "path": path, "query_string": query.encode(), "headers": []})


def params(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query)


def test_default_order_pages_by_keyset_and_keeps_filters() -> None:
    req = request("type=IpAddress&after=40&size=25")
    paging = PageRequest.read(req, sortable={"title"})
    assert paging.keyset
    assert paging.query_args() == {"order_by": (), "skip": 0, "top": 25, "after_id": 40}
    pager = paging.pager(req, shown=25, has_more=True, last_id=77)
    assert params(pager.next_url) == {"type": ["IpAddress"], "size": ["25"], "after": ["77"]}
    assert params(pager.first_url) == {"type": ["IpAddress"], "size": ["25"]}
    assert pager.previous_url is None
    assert pager.aria_sort("title") == "none"
    assert params(pager.sort_url("title")) == {
        "type": ["IpAddress"],
        "sort": ["title"],
        "dir": ["asc"],
        "size": ["25"],
    }


def test_other_orders_page_by_offset() -> None:
    req = request("sort=title&dir=desc&offset=50&size=25&q=x")
    paging = PageRequest.read(req, sortable={"title"})
    assert paging.query_args() == {
        "order_by": (("title", True),),
        "skip": 50,
        "top": 25,
        "after_id": None,
    }
    pager = paging.pager(req, shown=25, has_more=False)
    assert pager.next_url is None
    assert params(pager.previous_url)["offset"] == ["25"]
    assert pager.range_text == "Rows 51–75"
    assert pager.aria_sort("title") == "descending"
    assert params(pager.sort_url("title"))["dir"] == ["asc"]


def test_unknown_sorts_sizes_and_cursors_fall_back() -> None:
    paging = PageRequest.read(request("sort=password&size=9999&after=-3&offset=x"), {"title"})
    assert paging == PageRequest(size=50)
    assert PageRequest.read(request("after=abc")).after is None


def test_bar_chart_scales_to_a_round_top() -> None:
    chart = bar_chart([("1", "a", 0), ("2", "b", 7), ("3", "c", 3)])
    assert [t.label for t in chart.ticks] == ["0", "5", "10"]
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.value == 7
    assert chart.bars[0].height == 0
    assert all(b.y + b.height == chart.plot_bottom for b in chart.bars)
    empty = bar_chart([])
    assert empty.bars == []
