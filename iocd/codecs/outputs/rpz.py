"""A DNS Response Policy Zone (RPZ) for BIND, Unbound, PowerDNS Recursor and Knot Resolver.

Owner names are relative, so the zone loads under whatever name the resolver gives it. A
blocked domain is two QNAME triggers, the name and `*.name` (the domain and every subdomain),
with the action `CNAME .` (NXDOMAIN). An Allowed domain that wins over the blocks above it is
written the same way with `CNAME rpz-passthru.`: DNS looks up the closest match first, so
`a.good.evil.example` is let through by `*.good.evil.example` although `*.evil.example` blocks
the rest. Addresses, when asked for, are rpz-ip triggers (`32.7.113.0.203.rpz-ip`): any answer
holding that address becomes NXDOMAIN. The SOA serial is the change sequence (modulo 2^32).
Names too long to stay under 253 characters below a zone name are left out and counted.
Pure, streamed (one block of lines per chunk of entries).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from iocd.codecs.outputs.header import footer, header
from iocd.domain.outputs import TYPE, TYPE_CODES, VALUE, Selection
from iocd.domain.types import IndicatorType

__all__ = ["render_rpz", "rpz_ip_name"]

MAX_NAME = 200
"""Longest domain written: `*.` plus the name plus a zone name such as `rpz.example.org.`
must stay within DNS's 253 characters."""
TTL = 300
BLOCK = "CNAME ."
PASSTHRU = "CNAME rpz-passthru."


def rpz_ip_name(value: str) -> str:
    """The rpz-ip owner name of an address or CIDR block (RFC draft-vixie-dnsop-dns-rpz)."""
    network = ipaddress.ip_network(value, strict=True)
    if network.version == 4:
        octets = str(network.network_address).split(".")
        return f"{network.prefixlen}.{'.'.join(reversed(octets))}.rpz-ip"
    words = [f"{w:x}" for w in _words(network.network_address.packed)]
    start, length = _longest_zero_run(words)
    if length > 1:
        words = [*words[:start], "zz", *words[start + length :]]
    return f"{network.prefixlen}.{'.'.join(reversed(words))}.rpz-ip"


def _words(packed: bytes) -> list[int]:
    return [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]


def _longest_zero_run(words: list[str]) -> tuple[int, int]:
    best = (0, 0)
    start = None
    for i, word in enumerate([*words, "end"]):
        if word == "0":
            start = i if start is None else start
            continue
        if start is not None and i - start > best[1]:
            best = (start, i - start)
        start = None
    return best


def render_rpz(selection: Selection) -> Iterator[str]:
    yield from header(selection, "response policy zone (RPZ)", ";")
    serial = selection.sequence % (1 << 32)
    yield f"$TTL {TTL}\n"
    yield f"@ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 86400 {TTL} )\n"
    yield "@ IN NS localhost.\n"
    passthru = [name for name in selection.passthru if len(name) <= MAX_NAME]
    skipped = len(selection.passthru) - len(passthru)
    if passthru:
        yield f"; {len(passthru)} names let through by Allowed indicators (and subdomains)\n"
    if passthru:
        yield "".join([f"{name} {PASSTHRU}\n*.{name} {PASSTHRU}\n" for name in passthru])
    tally = selection.tally
    address = TYPE_CODES.index(IndicatorType.IP_ADDRESS)
    for chunk in selection.chunks():
        lines = []
        for row in chunk.rows:
            value = row[VALUE]
            if row[TYPE] == address:
                lines.append(f"{rpz_ip_name(value)} {BLOCK}\n")
            elif len(value) > MAX_NAME:
                skipped += 1
            else:
                lines.append(f"{value} {BLOCK}\n*.{value} {BLOCK}\n")
        if lines:
            tally.written += len(lines)
            yield "".join(lines)
    if skipped:
        yield f"; {skipped} names longer than {MAX_NAME} characters left out\n"
    yield from footer(selection, ";")
