"""STIX 2.1: golden bundles in, every pattern shape, bad input, export the validator accepts."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance, validate_string

from iocd.codecs.interchange import SKIPPED, ImportDefaults, sniff_json_format
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure
from iocd.codecs.stix import read_stix, values_of
from iocd.codecs.stix_export import pattern_of, stix_id, to_stix, write_stix
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput
from tests.codecs.interchange_helpers import GOLDEN, check_golden
from tests.factories import T0, make_fields, make_indicator

STIX = GOLDEN / "stix"
AUDIT = ImportDefaults.of("Audit")


def read(document: Any, defaults: ImportDefaults = AUDIT, **options: Any) -> list[ParsedItem]:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return list(read_stix(io.BytesIO(data), defaults, **options))


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": "bundle--0b9c4b8e-8d0b-4d6e-9b7c-1d2e3f4a5b6c",
        "objects": objects,
    }


def indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        **extra,
    }


@pytest.mark.parametrize(
    "name",
    [
        "indicators-for-C2-with-COA",
        "malicious-email-indicator-with-attachment",
        "indicator-for-c2-ip-address",
    ],
)
def test_golden_bundles(name: str) -> None:
    with (STIX / f"{name}.json").open("rb") as stream:
        check_golden(STIX / "expected" / f"{name}.json", read_stix(stream, AUDIT))


def test_a_json_schema_is_not_a_bundle() -> None:
    with (STIX / "interop-indicator.json").open("rb") as stream, pytest.raises(InvalidInput) as e:
        read_stix(stream, AUDIT)
    assert "not a STIX bundle" in str(e.value)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[file:hashes.'SHA-256' = '" + "A" * 64 + "']", [("FileSha256", "a" * 64)]),
        ("[file:hashes.MD5 = '" + "b" * 32 + "']", [("FileMd5", "b" * 32)]),
        ("[file:hashes.'SHA-1' = '" + "c" * 40 + "']", [("FileSha1", "c" * 40)]),
        ("[ipv4-addr:value = '203.0.113.0/24']", [("IpAddress", "203.0.113.0/24")]),
        ("[ipv6-addr:value = '2001:DB8::1']", [("IpAddress", "2001:db8::1")]),
        ("[domain-name:value = 'Evil.Example.com']", [("DomainName", "evil.example.com")]),
        ("[url:value = 'http://evil.example.com/a']", [("Url", "http://evil.example.com/a")]),
        (
            "[x509-certificate:hashes.'SHA-1' = '" + "d" * 40 + "']",
            [("CertificateThumbprint", "d" * 40)],
        ),
        (
            "[domain-name:value = 'a.example' OR ipv4-addr:value = '198.51.100.7']",
            [("DomainName", "a.example"), ("IpAddress", "198.51.100.7")],
        ),
        (
            "[domain-name:value = 'a.example'] OR [url:value = 'https://b.example/x']",
            [("DomainName", "a.example"), ("Url", "https://b.example/x")],
        ),
        (
            "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]",
            [("IpAddress", "198.51.100.1"), ("IpAddress", "198.51.100.2")],
        ),
    ],
)
def test_single_value_patterns_become_indicators(
    pattern: str, expected: list[tuple[str, str]]
) -> None:
    items = read(bundle(indicator(pattern)))
    assert all(isinstance(i, CsvRow) for i in items)
    got = [(i.fields.indicator_type.value, i.fields.value) for i in items if isinstance(i, CsvRow)]
    assert got == expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[file:name = 'a.exe' AND file:size = 3]", "AND"),
        ("[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'a.example']", "AND"),
        ("[email-message:subject MATCHES '^Invoice']", "MATCHES"),
        ("[url:value LIKE 'http://a.example/%']", "LIKE"),
        ("[x509-certificate:subject = 'CN=Evil']", "x509-certificate:subject"),
        ("[ipv4-addr:value != '198.51.100.1']", "negates"),
        ("[ipv4-addr:value = '198.51.100.1'] WITHIN 5 SECONDS", "qualifier"),
        ("[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [ipv4-addr:value = '1.1.1.1']", "FOLLOW"),
        ("[mutex:name = 'evil']", "mutex:name"),
        ("[file:size = 1024]", "file:size"),
    ],
)
def test_other_patterns_are_skipped_with_the_reason(pattern: str, reason: str) -> None:
    [item] = read(bundle(indicator(pattern)))
    assert isinstance(item, RowFailure)
    assert item.reason.startswith(SKIPPED)
    assert reason in item.reason


def test_fields_are_mapped() -> None:
    obj = indicator(
        "[domain-name:value = 'c2.example']",
        name="C2 domain",
        description="Beacons home",
        valid_until="2031-02-03T04:05:06.789Z",
        kill_chain_phases=[
            {"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}
        ],
        external_references=[{"source_name": "mitre-attack", "external_id": "T1071.004"}],
    )
    defaults = ImportDefaults.of("Block", "High", rbac_group_names=["Servers"])
    [item] = read(bundle({"type": "identity", "id": "identity--x"}, obj), defaults)
    assert isinstance(item, CsvRow)
    assert item.line == 2
    f = item.fields
    assert (f.action, f.severity, f.rbac_group_names) == (Action.BLOCK, Severity.HIGH, ("Servers",))
    assert (f.title, f.description, f.external_id) == ("C2 domain", "Beacons home", obj["id"])
    assert f.expiration_time is not None and f.expiration_time.isoformat().startswith("2031-02-03")
    assert (f.category, f.mitre_techniques) == ("CommandAndControl", ("T1071.004",))


def test_bad_values_and_expired_revoked_and_foreign_patterns() -> None:
    items = read(
        bundle(
            indicator("[ipv4-addr:value = '999.1.1.1']"),
            indicator("[ipv4-addr:value = '198.51.100.1']", valid_until="2020-01-01T00:00:00Z"),
            indicator("[ipv4-addr:value = '198.51.100.2']", revoked=True),
            indicator("alert tcp any any", pattern_type="snort"),
            indicator("[ipv4-addr:value = "),
            "not an object",
        ),
        now=T0,
    )
    reasons = [(i.line, i.reason) for i in items if isinstance(i, RowFailure)]
    assert len(reasons) == 6
    assert "indicatorValue" in reasons[0][1] and not reasons[0][1].startswith(SKIPPED)
    assert "expired" in reasons[1][1] and "revoked" in reasons[2][1] and "snort" in reasons[3][1]
    assert "does not parse" in reasons[4][1] and not reasons[4][1].startswith(SKIPPED)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type": "bundle", "objects": [', "not valid JSON"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"type": "indicator"}', "not a STIX bundle"),
        (b'{"type": "bundle", "objects": {}}', "not a list"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
)
def test_unreadable_documents_fail_before_any_item(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as e:
        read_stix(io.BytesIO(data), AUDIT)
    assert message in str(e.value)


def test_a_large_bundle_streams_item_by_item() -> None:
    objects = [
        indicator(f"[ipv4-addr:value = '10.{n >> 16}.{n >> 8 & 255}.{n & 255}']")
        for n in range(100_000)
    ]
    items = read_stix(io.BytesIO(json.dumps(bundle(*objects)).encode()), AUDIT)
    count = sum(1 for item in items if isinstance(item, CsvRow))
    assert count == 100_000


def test_sniffing() -> None:
    assert sniff_json_format(b'{\n "type": "bundle", "id": "bundle--1", "objects": []}') == "stix"
    assert sniff_json_format(b'{"id": "bundle--1", "objects": [], "type": "bundle"}') == "stix"
    assert sniff_json_format(b'{"Event": {"info": "x"}}') == "misp"
    assert sniff_json_format(b'{"response": []}') == "misp"
    assert sniff_json_format(b"IndicatorType,IndicatorValue") is None


def _selection() -> list[Any]:
    fields = [
        make_fields(1, IndicatorType.FILE_SHA256, category="Malware", mitre_techniques=("T1204",)),
        make_fields(2, IndicatorType.FILE_SHA1),
        make_fields(3, IndicatorType.FILE_MD5, expiration_time=T0 + timedelta(days=30)),
        make_fields(4, IndicatorType.CERTIFICATE_THUMBPRINT, value="ab" * 20),
        make_fields(5, IndicatorType.IP_ADDRESS, value="203.0.113.0/24", action=Action.ALLOWED),
        make_fields(6, IndicatorType.IP_ADDRESS, value="2001:db8::/32"),
        make_fields(7, IndicatorType.DOMAIN_NAME, rbac_group_names=("Servers",)),
        make_fields(8, IndicatorType.URL, value="https://a.example/it's%5Chere?q=1"),
        make_fields(9, IndicatorType.URL, expiration_time=T0 - timedelta(days=1)),
    ]
    return [make_indicator(n, f) for n, f in enumerate(fields, start=1)]


def test_export_passes_the_validator_with_no_errors() -> None:
    out = io.StringIO()
    assert write_stix(_selection(), out) == 9
    options = ValidationOptions(version="2.1", strict=True)
    result = validate_string(out.getvalue(), options)
    assert result.is_valid, [str(e) for e in result.errors]
    for obj in json.loads(out.getvalue())["objects"]:
        single = validate_instance(obj, options)
        assert single.is_valid and not single.errors


def test_export_imports_back_to_the_same_values() -> None:
    selection = _selection()
    out = io.StringIO()
    write_stix(selection, out, bundle_id="bundle--0b9c4b8e-8d0b-4d6e-9b7c-1d2e3f4a5b6c")
    items = read(out.getvalue().encode())
    assert [i.fields.value for i in items if isinstance(i, CsvRow)] == [
        s.fields.value for s in selection
    ]
    first = items[0]
    assert isinstance(first, CsvRow)
    assert first.fields.external_id == stix_id(1)
    assert (first.fields.category, first.fields.mitre_techniques) == ("Malware", ("T1204",))


def test_ids_are_stable_and_patterns_quote() -> None:
    assert stix_id(7) == stix_id(7) != stix_id(8)
    assert uuid.UUID(stix_id(7).removeprefix("indicator--")).version == 4
    assert to_stix(make_indicator(7))["id"] == stix_id(7)
    pattern = pattern_of(IndicatorType.URL, "https://a.example/it's\\x")
    assert values_of(pattern) == [(IndicatorType.URL, "https://a.example/it's\\x")]
