"""Reference data of things known to be benign, for the guardrails (SPEC section 3).

`WarninglistsReference` answers from the MISP warninglists shipped inside pymispwarninglists. It
reads only the lists it needs, straight from the package's JSON files, once, on first use:
`pymispwarninglists.WarningLists()` would parse all ~120 lists (66 MB, about 0.9 s) and its
`slow_search` mode, the only one with CIDR and hostname semantics, takes about 10 s to build.

Semantics (every lookup is O(1) or O(log n), a few microseconds):
- IpAddress: an address inside any listed address or range; a CIDR overlapping one.
- DomainName (matches the domain and all its subdomains): refused when it is a listed host,
  `www.` + a listed host, a public suffix (blocking `github.io` blocks every site under it), or a
  parent of a listed top site (blocking `blogspot.com` would cut off a top-site blog). A
  subdomain of a listed host is NOT refused: `evil.blogspot.com` and `attacker.github.io` stay
  blockable, and so does `evil.google.com`.
- Url: only a whole-site URL (path "/", no query) is looked up, as its host, by exact match
  (listed host or `www.` + listed host); a specific path on a top site stays blockable.
- File hashes: listed values (empty files, known false positives). Certificates: none here.

`TrustedSoftwareReference` holds hashes and certificate thumbprints known from telemetry to be
validly signed by a trusted publisher; `CombinedReference` asks several references in turn.
"""

from __future__ import annotations

import bisect
import importlib.util
import ipaddress
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from iocd.domain.types import FILE_HASH_TYPES, IndicatorType
from iocd.domain.values import normalise
from iocd.errors import InvalidInput
from iocd.policy.guardrails import IpSpan, KnownBenignLookup, parse_ip_span, site_host

RESOLVER_IP_LISTS = ("public-dns-v4", "public-dns-v6")
RESOLVER_HOST_LISTS = ("public-dns-hostname",)
TOP_SITE_LISTS = ("tranco10k", "cisco_top1000", "moz-top500")
PUBLIC_SUFFIX_LISTS = ("second-level-tlds",)
HASH_LISTS = {
    "empty-hashes": "the hash of the empty file",
    "common-ioc-false-positive": "a hash known as a common false positive in IOC lists",
    "ti-falsepositives": "a hash known as a common false positive in IOC lists",
}

_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)+")
_RESOLVER = "a well-known public DNS resolver"
_TOP_SITE = "a top site"


def packaged_lists_dir() -> Path:
    """The `lists` folder of the warninglists shipped in pymispwarninglists (not imported)."""
    spec = importlib.util.find_spec("pymispwarninglists")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("pymispwarninglists is not installed; it ships the warninglists")
    return Path(spec.origin).parent / "data" / "misp-warninglists" / "lists"


@dataclass
class _IpRanges:
    """Sorted, merged, disjoint ranges of one list and one IP version: bisect finds overlaps."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, spans: list[tuple[int, int]]) -> _IpRanges:
        merged = cls()
        for first, last in sorted(spans):
            if merged.ends and first <= merged.ends[-1] + 1:
                merged.ends[-1] = max(merged.ends[-1], last)
            else:
                merged.starts.append(first)
                merged.ends.append(last)
        return merged

    def overlap(self, first: int, last: int) -> int | None:
        """An address in both first..last and a listed range, or None."""
        index = bisect.bisect_right(self.starts, last) - 1
        if index >= 0 and self.ends[index] >= first:
            return max(first, self.starts[index])
        return None


@dataclass
class _Index:
    ip_lists: list[tuple[str, dict[int, _IpRanges]]] = field(default_factory=list)
    hosts: dict[str, tuple[str, str]] = field(default_factory=dict)  # host -> (kind, list)
    parents: dict[str, tuple[str, str]] = field(default_factory=dict)  # parent -> (top site, list)
    suffixes: dict[str, str] = field(default_factory=dict)  # public suffix -> list
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)  # hash -> (what, list)
    skipped: int = 0  # entries that are not a valid value of their kind


def _read(lists_dir: Path, name: str) -> tuple[str, list[str]]:
    path = lists_dir / name / "list.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"MISP warninglist {name!r} not found at {path}") from None
    return str(data["name"]), [str(entry) for entry in data["list"]]


def _host(entry: str) -> str | None:
    host = entry.strip().rstrip("\\").strip().rstrip(".").lower()
    return host if _HOST.fullmatch(host) else None


def _build(lists_dir: Path, top_sites: tuple[str, ...]) -> _Index:
    index = _Index()
    for name in RESOLVER_IP_LISTS:
        title, entries = _read(lists_dir, name)
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for entry in entries:
            span = parse_ip_span(entry)
            if span is None:
                index.skipped += 1
            else:
                spans[span[0]].append((span[1], span[2]))
        index.ip_lists.append((title, {v: _IpRanges.of(s) for v, s in spans.items() if s}))
    for kind, names in ((_RESOLVER, RESOLVER_HOST_LISTS), (_TOP_SITE, top_sites)):
        for name in names:
            title, entries = _read(lists_dir, name)
            for entry in entries:
                host = _host(entry)
                if host is None:
                    index.skipped += 1
                    continue
                index.hosts.setdefault(host, (kind, title))
                if kind == _TOP_SITE:
                    labels = host.split(".")
                    for cut in range(1, len(labels) - 1):
                        index.parents.setdefault(".".join(labels[cut:]), (host, title))
    for name in PUBLIC_SUFFIX_LISTS:
        title, entries = _read(lists_dir, name)
        for entry in entries:
            host = _host(entry)
            if host is not None:
                index.suffixes.setdefault(host, title)
    for name, what in HASH_LISTS.items():
        title, entries = _read(lists_dir, name)
        for entry in entries:
            index.hashes.setdefault(entry.strip().lower(), (what, title))
    return index


class WarninglistsReference:
    """Known-benign answers from the MISP warninglists (see the module docstring for semantics).

    Loads lazily and once (thread-safe); `load()` does it eagerly, e.g. at start-up, and
    `load_seconds` says how long it took. `top_sites` chooses the top-site lists.
    """

    def __init__(
        self, lists_dir: Path | None = None, *, top_sites: tuple[str, ...] = TOP_SITE_LISTS
    ) -> None:
        self._lists_dir = lists_dir
        self._top_sites = top_sites
        self._index: _Index | None = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None

    def load(self) -> None:
        """Read the lists now, if not done yet."""
        self._loaded()

    @property
    def skipped_entries(self) -> int:
        """Entries of the lists that are not a valid value of their kind (ignored)."""
        return self._loaded().skipped

    def _loaded(self) -> _Index:
        index = self._index
        if index is not None:
            return index
        with self._lock:
            if self._index is None:
                started = time.perf_counter()
                lists_dir = self._lists_dir or packaged_lists_dir()
                self._index = _build(lists_dir, self._top_sites)
                self.load_seconds = time.perf_counter() - started
            return self._index

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        """Why the canonical value is on a warninglist, or None. Never raises on odd values."""
        index = self._index or self._loaded()
        if indicator_type is IndicatorType.IP_ADDRESS:
            return self._ip_reason(index, value)
        if indicator_type is IndicatorType.DOMAIN_NAME:
            name = value.strip().lower()
            return _exact_host_reason(index, name) or _domain_only_reason(index, name)
        if indicator_type is IndicatorType.URL:
            return self._url_reason(index, value.strip())
        if indicator_type in FILE_HASH_TYPES:
            return _hash_reason(index, value.strip().lower())
        return None

    @staticmethod
    def _ip_reason(index: _Index, value: str) -> str | None:
        span = parse_ip_span(value)
        return None if span is None else _span_reason(index, value.strip(), span)

    @staticmethod
    def _url_reason(index: _Index, url: str) -> str | None:
        host = site_host(url)
        if host is None:
            return None
        span = parse_ip_span(host)
        reason = (
            _exact_host_reason(index, host.lower())
            if span is None
            else _span_reason(index, host, span)
        )
        return f"{url} names the whole site {host}, and {reason}" if reason else None


def _span_reason(index: _Index, shown: str, span: IpSpan) -> str | None:
    version, first, last = span
    for title, by_version in index.ip_lists:
        ranges = by_version.get(version)
        hit = ranges.overlap(first, last) if ranges is not None else None
        if hit is None:
            continue
        if first == last:
            return f"{shown} is {_RESOLVER} (MISP warninglist {title!r})"
        address = ipaddress.IPv6Address(hit) if version == 6 else ipaddress.IPv4Address(hit)
        return f"{shown} contains {address}, {_RESOLVER} (MISP warninglist {title!r})"
    return None


def _exact_host_reason(index: _Index, host: str) -> str | None:
    listed = index.hosts.get(host)
    if listed is not None:
        return f"{host} is {listed[0]} (MISP warninglist {listed[1]!r})"
    if host.startswith("www."):
        bare = host[4:]
        listed = index.hosts.get(bare)
        if listed is not None:
            return f"{host} is the www name of {bare}, {listed[0]} (MISP warninglist {listed[1]!r})"
    return None


def _domain_only_reason(index: _Index, domain: str) -> str | None:
    """Rules that hold because a domain indicator also matches every subdomain."""
    suffix = index.suffixes.get(domain)
    if suffix is not None:
        return (
            f"{domain} is a public suffix: blocking it blocks every site registered under it "
            f"(MISP warninglist {suffix!r})"
        )
    parent = index.parents.get(domain)
    if parent is not None:
        return (
            f"blocking {domain} would also block {parent[0]}, {_TOP_SITE} "
            f"(MISP warninglist {parent[1]!r})"
        )
    return None


def _hash_reason(index: _Index, digest: str) -> str | None:
    listed = index.hashes.get(digest)
    if listed is None:
        return None
    return f"{digest} is {listed[0]} (MISP warninglist {listed[1]!r})"


class TrustedSoftwareReference:
    """File hashes and certificate thumbprints known from telemetry to be validly signed by a
    trusted publisher. In memory; fed by the caller until the telemetry store exists.
    """

    _TYPES = FILE_HASH_TYPES | {IndicatorType.CERTIFICATE_THUMBPRINT}

    def __init__(self) -> None:
        self._publishers: dict[tuple[IndicatorType, str], str] = {}

    def add(self, indicator_type: IndicatorType, value: str, publisher: str) -> None:
        """Record a trusted value; the value is normalised (InvalidValue if it is malformed)."""
        if indicator_type not in self._TYPES:
            raise InvalidInput(
                "indicatorType",
                f"trusted software is known by file hash or thumbprint, not {indicator_type.value}",
            )
        name = publisher.strip()
        if not name:
            raise InvalidInput("publisher", "is required")
        self._publishers[(indicator_type, normalise(indicator_type, value))] = name

    def __len__(self) -> int:
        return len(self._publishers)

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        publisher = self._publishers.get((indicator_type, value.strip().lower()))
        if publisher is None:
            return None
        what = (
            "the certificate of"
            if indicator_type is IndicatorType.CERTIFICATE_THUMBPRINT
            else "a file validly signed by"
        )
        return f"{value.strip()} is {what} {publisher}, a trusted publisher (seen in telemetry)"


class CombinedReference:
    """Several references asked in order; the first reason wins."""

    def __init__(self, *references: KnownBenignLookup) -> None:
        self._references = references

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        for reference in self._references:
            found = reference.reason(indicator_type, value)
            if found is not None:
                return found
        return None
