"""Address texts as the index holds them: 16 bytes (IPv4 mapped into IPv6), CIDR blocks as a
128-bit network and prefix. Pure."""

from __future__ import annotations

import socket

__all__ = ["MAPPED_PREFIX", "cidr", "ip_packed"]

MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"


def ip_packed(text: str) -> tuple[bytes, bool] | None:
    """16 bytes of an address (IPv4 mapped) and whether it is IPv4 text, or None."""
    try:
        if ":" in text:
            return socket.inet_pton(socket.AF_INET6, text), False
        return MAPPED_PREFIX + socket.inet_pton(socket.AF_INET, text), True
    except (OSError, ValueError):
        return None


def cidr(text: str) -> tuple[int, int] | None:
    """(network as a 128-bit int, prefix in 128 bits) of a CIDR block, or None."""
    address, _, prefix = text.partition("/")
    packed = ip_packed(address)
    if packed is None or not prefix.isdigit():
        return None
    length = int(prefix) + (96 if packed[1] else 0)
    if length > 128:
        return None
    network = int.from_bytes(packed[0], "big")
    return network & ~((1 << (128 - length)) - 1), length
