"""Bad and big STIX and MISP input: malformed and truncated JSON fail with one clear error before
any item; a bundle of 100,000 objects and an event of 200,000 attributes are read item by item
in memory about the size of the file (json_lazy), not ten times it."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from iocd.codecs.interchange import SKIPPED, ImportDefaults
from iocd.codecs.json_lazy import LazyArray, Plan, decode_lazily
from iocd.codecs.misp import read_misp
from iocd.codecs.rows import CsvRow, RowFailure
from iocd.codecs.stix import read_stix
from iocd.errors import InvalidInput

AUDIT = ImportDefaults.of("Audit")


def stix_indicator(n: int) -> str:
    return json.dumps(
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "name": f"indicator {n}",
            "pattern": f"[file:hashes.MD5 = '{n:032x}']",
            "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
        }
    )


def write_bundle(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "bundle", "id": "bundle--1", "objects": [\n')
        out.write(",\n".join(stix_indicator(n) for n in range(count)))
        out.write("\n]}\n")
    return path


def misp_attributes(count: int) -> Iterator[str]:
    for n in range(count):
        kind, value = ("md5", f"{n:032x}") if n % 1000 == 0 else ("text", f"note {n}")
        yield json.dumps({"type": kind, "value": value, "to_ids": True, "uuid": f"u-{n}"})


def write_event(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"Event": {"info": "Big event", "Attribute": [\n')
        out.write(",\n".join(misp_attributes(count)))
        out.write('\n], "Object": []}}\n')
    return path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"type": "bundle", "objects": [{"type": "indicator", ', "not valid JSON"),
        (b'{"type": "bundle", "objects": [{"type": "x"},]}', "not valid JSON"),
        (b'{"type": "bundle", "objects": [{"type": "x"}]} trailing', "Extra data"),
        (b'{"type": "bundle", "objects": [', "line 1 column 32"),
        (b'{"type": "bundle", "objects": [] ', "Expecting ',' delimiter"),
        (b'{"type": "bundle", "objects": [{"type": "x"}} ', "Expecting ',' delimiter"),
        (b'{"type": "bundle" "objects": []}', "Expecting ',' delimiter"),
        (b'{"type": "bundle", objects: []}', "property name"),
        (b'{"type": "bundle", "objects" []}', "':' delimiter"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"", "not valid JSON"),
    ],
)
def test_a_stix_file_that_is_not_json_fails_before_any_item(data: bytes, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_stix(io.BytesIO(data), AUDIT)
    assert expected in caught.value.reason and caught.value.field == "FILE"


@pytest.mark.parametrize(
    "data",
    [
        b'{"Event": {"info": "x", "Attribute": [{"type": "md5", "value": "',
        b'{"Event": {"info": "x", "Attribute": [{"type": "md5"}], "Object": [{]}}',
        b'{"response": [{"Event": {"Attribute": [{"type": "md5"}]}}, {"Event": {"Attrib',
        b'[{"Event": {"Attribute": []}}, {"Event": {"Attribute": [1 2]}}]',
    ],
)
def test_a_misp_file_that_is_not_json_fails_before_any_item(data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_misp(io.BytesIO(data), AUDIT)
    assert "not valid JSON" in caught.value.reason


def test_a_truncated_big_bundle_fails_before_the_first_item(tmp_path: Path) -> None:
    whole = write_bundle(tmp_path / "bundle.json", 20_000).read_bytes()
    with pytest.raises(InvalidInput, match="not valid JSON"):
        read_stix(io.BytesIO(whole[: len(whole) * 2 // 3]), AUDIT)


def test_a_bundle_of_100000_objects_is_read_item_by_item(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "bundle.json", 100_000)
    with path.open("rb") as stream:
        items = read_stix(stream, AUDIT)
        first = next(items)
        count = 1 + sum(1 for _ in items)
    assert isinstance(first, CsvRow) and first.fields.value == f"{0:032x}"
    assert count == 100_000


def test_an_event_of_200000_attributes_reports_each(tmp_path: Path) -> None:
    path = write_event(tmp_path / "event.json", 200_000)
    with path.open("rb") as stream:
        items = list(read_misp(stream, AUDIT))
    assert len(items) == 200_000
    stored = [i for i in items if isinstance(i, CsvRow)]
    assert len(stored) == 200 and stored[1].line == 1001
    skipped = [i for i in items if isinstance(i, RowFailure)]
    assert all(i.reason.startswith(SKIPPED + "MISP type 'text'") for i in skipped)


def test_memory_is_about_the_file_size(tmp_path: Path) -> None:
    path = write_bundle(tmp_path / "bundle.json", 10_000)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            count = sum(1 for _ in read_stix(stream, AUDIT))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < 3 * size, f"peak {peak:,} bytes for a file of {size:,}"  # json.loads: ~10x


def test_lazy_arrays_decode_as_json_does() -> None:
    document = {"a": [1, {"b": [2, 3]}, []], "c": {"d": []}, "e": "x"}
    text = json.dumps(document, indent=2)
    plan = Plan(members={"a": Plan(lazy=True), "c": Plan(members={"d": Plan(lazy=True)})})
    lazy = decode_lazily(text, plan)
    assert isinstance(lazy["a"], LazyArray) and list(lazy["a"]) == document["a"]
    assert list(lazy["a"]) == document["a"]  # again: each iteration decodes anew
    assert len(lazy["a"]) == 3 and bool(lazy["a"]) and not lazy["c"]["d"]
    assert lazy["e"] == "x"
    top = decode_lazily(" [ 1 , 2 ] ", Plan(lazy=True))
    assert list(top) == [1, 2]
    assert decode_lazily("[]", Plan(lazy=True)).__bool__() is False
