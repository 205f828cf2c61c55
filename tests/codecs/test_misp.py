"""MISP: golden events in, attribute type mapping, to_ids, warninglists, tags, bad input, export."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from pymisp import MISPEvent

from iocd.codecs.interchange import SKIPPED, ImportDefaults
from iocd.codecs.misp import read_misp
from iocd.codecs.misp_export import attribute_uuid, write_misp
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from tests.codecs.interchange_helpers import GOLDEN, check_golden
from tests.factories import T0, make_fields, make_indicator

MISP = GOLDEN / "misp"
AUDIT = ImportDefaults.of("Audit")
NAMES = ["existing_event", "long_event", "mainly_objects_1", "misp_event", "to_delete2"]


def read(document: Any, **options: Any) -> list[ParsedItem]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return list(read_misp(io.BytesIO(data), options.pop("defaults", AUDIT), **options))


def attribute(kind: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "to_ids": True, "uuid": f"uuid-{value}", **extra}


def event(*attributes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Event": {"info": "Campaign X", "Attribute": list(attributes), **extra}}


def indicators(items: list[ParsedItem]) -> list[tuple[str, str]]:
    return [(i.fields.indicator_type.value, i.fields.value) for i in items if isinstance(i, CsvRow)]


@pytest.mark.parametrize("name", NAMES)
def test_golden_events(name: str) -> None:
    with (MISP / f"{name}.json").open("rb") as stream:
        check_golden(MISP / "expected" / f"{name}.json", read_misp(stream, AUDIT))


def test_attributes_inside_objects_are_read() -> None:
    with (MISP / "mainly_objects_1.json").open("rb") as stream:
        items = list(read_misp(stream, AUDIT))
    assert len(indicators(items)) == 17
    assert all(i.line > 0 for i in items)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("md5", "A" * 32, [("FileMd5", "a" * 32)]),
        ("sha1", "b" * 40, [("FileSha1", "b" * 40)]),
        ("sha256", "c" * 64, [("FileSha256", "c" * 64)]),
        ("filename|md5", "evil.exe|" + "d" * 32, [("FileMd5", "d" * 32)]),
        ("filename|sha1", "evil.exe|" + "e" * 40, [("FileSha1", "e" * 40)]),
        ("filename|sha256", "a|b.exe|" + "f" * 64, [("FileSha256", "f" * 64)]),
        ("ip-src", "198.51.100.1", [("IpAddress", "198.51.100.1")]),
        ("ip-dst", "203.0.113.0/24", [("IpAddress", "203.0.113.0/24")]),
        ("ip-src|port", "198.51.100.2|8080", [("IpAddress", "198.51.100.2")]),
        ("ip-dst|port", "2001:db8::1|443", [("IpAddress", "2001:db8::1")]),
        ("domain", "Evil.Example", [("DomainName", "evil.example")]),
        ("hostname", "c2.evil.example", [("DomainName", "c2.evil.example")]),
        (
            "domain|ip",
            "evil.example|198.51.100.3",
            [("DomainName", "evil.example"), ("IpAddress", "198.51.100.3")],
        ),
        ("url", "http://evil.example/x", [("Url", "http://evil.example/x")]),
        ("x509-fingerprint-sha1", "1" * 40, [("CertificateThumbprint", "1" * 40)]),
    ],
)
def test_attribute_types_map(kind: str, value: str, expected: list[tuple[str, str]]) -> None:
    items = read(event(attribute(kind, value)))
    assert indicators(items) == expected
    assert {i.line for i in items} == {1}


def test_unmapped_deleted_and_non_ids_attributes_are_skipped() -> None:
    items = read(
        event(
            attribute("ssdeep", "3:abc:def"),
            attribute("domain", "a.example", deleted=True),
            attribute("domain", "b.example", to_ids=False),
            attribute("domain", "not a domain"),
            {"type": "domain"},
        )
    )
    reasons = [(i.line, i.reason) for i in items if isinstance(i, RowFailure)]
    assert [line for line, _ in reasons] == [1, 2, 3, 4, 5]
    assert all(r.startswith(SKIPPED) for _, r in reasons[:3])
    assert "ssdeep" in reasons[0][1] and "deleted" in reasons[1][1] and "to_ids" in reasons[2][1]
    assert not reasons[3][1].startswith(SKIPPED) and not reasons[4][1].startswith(SKIPPED)


def test_non_ids_attributes_on_request() -> None:
    items = read(event(attribute("domain", "b.example", to_ids=False)), include_non_ids=True)
    assert indicators(items) == [("DomainName", "b.example")]


def test_warninglisted_values_are_skipped_with_the_reason() -> None:
    def known_benign(kind: IndicatorType, value: str) -> str | None:
        return "8.8.8.8 is a public resolver" if value == "8.8.8.8" else None

    items = read(
        event(attribute("ip-dst", "8.8.8.8"), attribute("ip-dst", "198.51.100.9")),
        known_benign=known_benign,
    )
    assert indicators(items) == [("IpAddress", "198.51.100.9")]
    assert isinstance(items[0], RowFailure) and "warninglist: 8.8.8.8" in items[0].reason


def test_tags_give_techniques_and_category_and_fields_map() -> None:
    tags = [{"name": 'misp-galaxy:mitre-attack-pattern="Spearphishing Link - T1566.002"'}]
    items = read(
        event(
            attribute(
                "url",
                "https://evil.example/login",
                comment="Phishing page",
                Tag=[{"name": 'iocd:category="InitialAccess"'}],
            ),
            Tag=tags,
        ),
        defaults=ImportDefaults.of("Block", "High", T0 + timedelta(days=7), ["Laptops"]),
    )
    [item] = items
    assert isinstance(item, CsvRow)
    f = item.fields
    assert (f.title, f.description, f.external_id) == (
        "Campaign X",
        "Phishing page",
        "uuid-https://evil.example/login",
    )
    assert (f.category, f.mitre_techniques) == ("InitialAccess", ("T1566.002",))
    assert (f.action, f.expiration_time, f.rbac_group_names) == (
        Action.BLOCK,
        T0 + timedelta(days=7),
        ("Laptops",),
    )


def test_search_results_and_bare_events() -> None:
    one = event(attribute("domain", "a.example"))
    two = event(attribute("domain", "b.example"))
    items = read({"response": [one, two]})
    assert indicators(items) == [("DomainName", "a.example"), ("DomainName", "b.example")]
    assert [i.line for i in items] == [1, 2]
    assert indicators(read(one["Event"])) == [("DomainName", "a.example")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"Event": {"Attribute": [', "not valid JSON"),
        (b'{"type": "bundle", "objects": []}', "not a MISP event"),
        (b'{"response": [{"Event": "x"}]}', "not a MISP event"),
        (b"42", "not a MISP event"),
    ],
)
def test_unreadable_documents_fail_before_any_item(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        read_misp(io.BytesIO(data), AUDIT)
    assert message in str(e.value)


def test_an_event_with_200000_attributes_streams() -> None:
    attributes = [
        {"type": "ip-dst", "value": f"10.{n >> 16}.{n >> 8 & 255}.{n & 255}", "to_ids": True}
        for n in range(200_000)
    ]
    data = json.dumps({"Event": {"info": "big", "Attribute": attributes}}).encode()
    del attributes
    count = sum(1 for i in read_misp(io.BytesIO(data), AUDIT) if isinstance(i, CsvRow))
    assert count == 200_000


def _selection() -> list[Any]:
    fields = [
        make_fields(1, IndicatorType.FILE_SHA256, mitre_techniques=("T1204.002",)),
        make_fields(2, IndicatorType.FILE_SHA1, category="Malware"),
        make_fields(3, IndicatorType.FILE_MD5),
        make_fields(4, IndicatorType.CERTIFICATE_THUMBPRINT, value="ab" * 20),
        make_fields(5, IndicatorType.IP_ADDRESS, value="203.0.113.0/24", action=Action.ALLOWED),
        make_fields(6, IndicatorType.IP_ADDRESS, value="2001:db8::1"),
        make_fields(7, IndicatorType.DOMAIN_NAME, rbac_group_names=("Servers",)),
        make_fields(8, IndicatorType.URL),
    ]
    return [make_indicator(n, f) for n, f in enumerate(fields, start=1)]


def test_export_loads_in_pymisp() -> None:
    out = io.StringIO()
    assert write_misp(_selection(), out, now=T0) == 8
    loaded = MISPEvent()
    loaded.load(out.getvalue())
    assert loaded.info == "Indicators exported from iocd"
    assert [a.type for a in loaded.attributes] == [
        "sha256", "sha1", "md5", "x509-fingerprint-sha1", "ip-dst", "ip-dst", "domain", "url",
    ]  # fmt: skip
    assert [a.to_ids for a in loaded.attributes].count(False) == 1
    assert loaded.attributes[0].uuid == attribute_uuid(1)


def test_export_imports_back_to_the_same_values() -> None:
    selection = _selection()
    out = io.StringIO()
    write_misp(selection, out, now=T0)
    items = read(out.getvalue().encode(), include_non_ids=True)
    assert [value for _, value in indicators(items)] == [s.fields.value for s in selection]
    first, second = items[0], items[1]
    assert isinstance(first, CsvRow) and isinstance(second, CsvRow)
    assert first.fields.mitre_techniques == ("T1204.002",)
    assert second.fields.category == "Malware"
    assert first.fields.external_id == attribute_uuid(1)
