"""Each output loaded by the enforcement point's own tool: Suricata (`-T`, and a pcap whose
packets the rules must match), BIND's named-checkzone and unbound-checkconf on the RPZ zone,
and clamscan with the hash database on a listed file and a clean one."""

from __future__ import annotations

from pathlib import Path

import pytest

from iocd.codecs.outputs import render
from iocd.domain.outputs import SURICATA_LISTS, OutputKind, OutputRequest, SuricataList
from tests.codecs.output_samples import MALWARE, sample_entries, selection
from tests.outputs import tools
from tests.outputs.pcap import dns_query, udp_packet, write_pcap


def write_suricata(directory: Path, domains: str = "rules") -> str:
    """The rules and every list beside them, as `iocd outputs write suricata` does."""
    lists = {found.name: directory / found.file_name for found in SURICATA_LISTS.values()}
    for path in lists.values():
        path.write_text("")

    def sink(found: SuricataList, line: str) -> None:
        with lists[found.name].open("a") as out:
            out.write(line)

    request = OutputRequest(OutputKind.SURICATA, suricata_domains=domains)
    text = "".join(render(selection(request, sample_entries()), on_list=sink))
    (directory / "iocd.rules").write_text(text)
    return text


@pytest.mark.parametrize("domains", ["rules", "dataset"])
def test_suricata_loads_the_rules(tmp_path: Path, domains: str) -> None:
    text = write_suricata(tmp_path, domains)
    checked = tools.suricata_test(tmp_path)
    assert checked.returncode == 0, checked.stderr + checked.stdout
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(rules) == 16  # rules: 6 domain + 4 address + 3 URL + 3 hash-list rules;
    # dataset: 6 dataset rules instead of the 6 domain rules


def test_suricata_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check is real: one bad rule fails it."""
    write_suricata(tmp_path)
    with (tmp_path / "iocd.rules").open("a") as out:
        out.write('drop http any any -> any any (msg:"x"; http.host; bsize:zz; sid:5;)\n')
    assert tools.suricata_test(tmp_path).returncode != 0


def test_suricata_rules_match_traffic(tmp_path: Path) -> None:
    """A pcap with a DNS query for a subdomain of a blocked domain, one for an unrelated name
    and datagrams to a listed and an unlisted address: exactly the listed ones alert."""
    write_suricata(tmp_path)
    pcap = tmp_path / "traffic.pcap"
    write_pcap(
        pcap,
        [
            udp_packet("192.0.2.10", "192.0.2.53", 40000, 53, dns_query("www.Evil.example", 1)),
            udp_packet("192.0.2.10", "192.0.2.53", 40001, 53, dns_query("notevil.example", 2)),
            udp_packet("192.0.2.10", "203.0.113.7", 40002, 9999, b"hello"),
            udp_packet("192.0.2.10", "203.0.113.8", 40003, 9999, b"hello"),
        ],
    )
    config = tmp_path / "suricata.yaml"
    config.write_text(tools.SURICATA_YAML.format(rules=tmp_path))
    done = tools.run(
        tools.tool("suricata"),
        "-c",
        config,
        "-S",
        tmp_path / "iocd.rules",
        "-r",
        pcap,
        "-l",
        tmp_path,
        "-k",
        "none",
    )
    assert done.returncode == 0, done.stderr
    alerts = (tmp_path / "fast.log").read_text()
    assert "evil.example" in alerts and "[1:1000000068:" in alerts  # dns.query, subdomain
    assert "notevil" not in alerts
    assert "203.0.113.7" in alerts and "203.0.113.8 " not in alerts.replace("->", " ")


@pytest.mark.parametrize("name", ["rpz", "rpz-ip"])
def test_bind_and_unbound_load_the_zone(tmp_path: Path, name: str) -> None:
    request = OutputRequest(OutputKind.RPZ, rpz_ip=name == "rpz-ip")
    chosen = selection(request, sample_entries(), passthru=("good.evil.example",))
    zone = tmp_path / "iocd.rpz.zone"
    zone.write_text("".join(render(chosen)))
    checked = tools.named_checkzone(zone)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "loaded serial 42" in checked.stdout
    checked = tools.unbound_checkconf(zone)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_powerdns_recursor_answers_through_the_zone(tmp_path: Path) -> None:
    """A listed domain and its subdomains get NXDOMAIN from the resolver itself; an Allowed
    name under it (rpz-passthru) is resolved as usual (SERVFAIL here: nothing upstream)."""
    request = OutputRequest(OutputKind.RPZ)
    chosen = selection(request, sample_entries(), passthru=("good.evil.example",))
    zone = tmp_path / "iocd.rpz.zone"
    zone.write_text("".join(render(chosen)))
    statuses = tools.pdns_recursor_answers(
        zone, tmp_path, ["evil.example", "www.evil.example", "good.evil.example"]
    )
    assert statuses["evil.example"] == "NXDOMAIN", statuses
    assert statuses["www.evil.example"] == "NXDOMAIN", statuses
    assert statuses["good.evil.example"] == "SERVFAIL", statuses


def test_named_checkzone_refuses_a_broken_zone(tmp_path: Path) -> None:
    zone = tmp_path / "broken.zone"
    zone.write_text("$TTL 300\n@ IN SOA localhost. h.localhost. ( 1 1 1 1 1 )\nbad line !!\n")
    assert tools.named_checkzone(zone).returncode != 0


@pytest.mark.parametrize("kind", ["FileSha256", "FileSha1", "FileMd5", "all"])
def test_clamscan_finds_the_listed_file(tmp_path: Path, kind: str) -> None:
    entries = [e for e in sample_entries() if kind in ("all", e.indicator_type.value)]
    database = tmp_path / "iocd.hsb"
    database.write_text("".join(render(selection(OutputRequest(OutputKind.CLAMAV), entries))))
    listed, clean = tmp_path / "listed.bin", tmp_path / "clean.bin"
    listed.write_bytes(MALWARE)
    clean.write_bytes(MALWARE + b"changed")
    scanned = tools.clamscan(database, listed, clean)
    assert scanned.returncode == 1, scanned.stdout + scanned.stderr  # 1: something found
    assert f"{listed}: iocd.Block" in scanned.stdout
    assert "FOUND" in scanned.stdout.splitlines()[0]
    assert f"{clean}: OK" in scanned.stdout


def test_clamscan_loads_an_empty_database(tmp_path: Path) -> None:
    """No entries: the comments alone load (ClamAV refuses an empty file)."""
    database = tmp_path / "iocd.hsb"
    database.write_text("".join(render(selection(OutputRequest(OutputKind.CLAMAV), []))))
    clean = tmp_path / "clean.bin"
    clean.write_bytes(b"nothing to see")
    scanned = tools.clamscan(database, clean)
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
