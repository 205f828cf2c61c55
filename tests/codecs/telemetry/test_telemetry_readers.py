"""Golden tests: each reader over excerpts of real samples (see golden/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from telemetry_golden import GOLDEN, as_json, check_golden

from iocd.codecs.telemetry import ReadReport, TelemetryFormat, detect_format, read_telemetry

CASES = {
    "sysmon_flat": (["sysmon_flat.jsonl"], TelemetryFormat.SYSMON),
    "sysmon_sentinel": (["sysmon_sentinel.jsonl"], TelemetryFormat.SYSMON),
    "sysmon_syslog": (["sysmon_syslog.jsonl"], TelemetryFormat.SYSMON),
    "sysmon_bitsadmin": (["sysmon_bitsadmin.jsonl"], TelemetryFormat.SYSMON),
    "zeek_tsv": (
        [f"zeek_tsv_{n}.log" for n in ("conn", "dns", "http", "files", "ssl")],
        TelemetryFormat.ZEEK,
    ),
    "zeek_rock": (
        [
            "zeek_rock_SCRANTON_http.log",
            "zeek_rock_NASHUA_ssl.log",
            "zeek_rock_SCRANTON_files.log",
            "zeek_rock_NASHUA_x509.log",
        ],
        TelemetryFormat.ZEEK,
    ),
    "zeek_json": (["zeek_json_dns.json", "zeek_json_ssl.json"], TelemetryFormat.ZEEK),
    "ecs_santa": (["ecs_santa.json"], TelemetryFormat.ECS),
    "ecs_packetbeat": (
        ["ecs_packetbeat_http_basic_auth.json", "ecs_packetbeat_established_tls.json"],
        TelemetryFormat.ECS,
    ),
    "defender_csv": (["defender_advanced_hunting.csv"], TelemetryFormat.DEFENDER),
    "defender_m365d": (["defender_m365d.jsonl"], TelemetryFormat.DEFENDER),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reader_matches_golden(name: str) -> None:
    files, fmt = CASES[name]
    paths = [GOLDEN / file for file in files]
    assert {detect_format(path) for path in paths} == {fmt}
    report = ReadReport()
    actual = as_json(read_telemetry(paths, report=report), report)
    check_golden(name, actual)


def _golden_events(name: str) -> list[dict[str, object]]:
    files, _ = CASES[name]
    report = ReadReport()
    result = as_json(read_telemetry([GOLDEN / f for f in files], report=report), report)
    return result["events"]  # type: ignore[no-any-return]


def test_sysmon_reads_what_the_campaign_is_about() -> None:
    events = _golden_events("sysmon_flat")
    payload = "e9196b871670af6307902fc4ca09f7cf3c309ae54b28e10d052ed8741090f928"
    stream = next(e for e in events if e.get("file_name") == "winx64_payload.exe")
    assert stream["sha256"] == payload
    zone = [e["url"] for e in events if "url" in e]  # Zone.Identifier HostUrl
    assert zone == ["http://10.0.5.13/winx64_payload.exe"]
    dns = [e["domain"] for e in events if e["kind"] == "dns" and "domain" in e]
    assert "dc01.pandalab.com" in dns
    loads = [e for e in events if e["kind"] == "image_load"]
    assert all(e["signature_valid"] is True and e["signer_trusted"] is True for e in loads)


def test_sysmon_skips_other_channels_in_a_mixed_file() -> None:
    report = ReadReport()
    list(read_telemetry([GOLDEN / "sysmon_bitsadmin.jsonl"], report=report))
    assert any("Security 4688" in reason for reason in report.reasons)


def test_zeek_sni_and_files_hashes() -> None:
    events = _golden_events("zeek_rock")
    files = [e for e in events if e["kind"] == "file"]
    assert files[0]["md5"] == "dd5ea7248edbdc4b158e3c81c154857b"
    assert files[0]["device_id"] == "10.0.1.4"  # the originator, who sent it (is_orig)
    tls = [e for e in events if e["kind"] == "tls"]
    assert tls[0]["signer_thumbprint"] == "d9105746ea023ecdc6a47e7b4d026d5308525b8c"
    assert "sni" not in tls[0]  # an IP-literal SNI is not a domain
    http = [e for e in events if e["kind"] == "http"]
    assert http[0]["url"] == "http://192.168.0.4/"


def test_ecs_tls_and_http() -> None:
    events = _golden_events("ecs_packetbeat")
    by_kind = {e["kind"]: e for e in events}
    assert by_kind["tls"]["sni"] == "example.net"
    assert by_kind["tls"]["signer_thumbprint"] == "7bb698386970363d2919cc5772846984ffd4a889"
    assert by_kind["http"]["url"] == "http://www.example.com/"
    assert by_kind["dns"]["domain"] == "www.example.com"


def test_defender_dns_name_from_additional_fields_and_mapped_ips() -> None:
    events = _golden_events("defender_csv")
    assert "tr.snapchat.com" in {e.get("domain") for e in events if e["kind"] == "dns"}
    assert "198.199.114.69" in {e.get("remote_ip") for e in events}  # was ::ffff:198.199.114.69


def test_golden_files_are_where_the_readme_says() -> None:
    readme = (GOLDEN / "README.md").read_text(encoding="utf-8")
    for files, _ in CASES.values():
        for file in files:
            assert file in readme, file
            assert (GOLDEN / file).is_file()


def test_the_real_samples_read_without_errors() -> None:
    root = Path("/work/shared/data/telemetry")
    if not root.is_dir():
        pytest.skip("shared samples not present")
    paths = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != "SOURCE.txt"]
    report = ReadReport()
    total = sum(batch.num_rows for batch in read_telemetry(paths, report=report))
    assert total == report.events > 20_000
