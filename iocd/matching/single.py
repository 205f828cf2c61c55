"""One event at a time (the agent): the candidates of an event and its decisions, in microseconds.

Semantics shared with the batch matcher (`batch.match_batch` answers the same for every row):

- Files: `sha256`, `sha1`, `md5` against the hash indicators of that kind, `signer_thumbprint`
  against certificate indicators; decided as `EntityKind.FILE` with the event's `FileContext`.
- Network: `remote_ip` against exact addresses and CIDR blocks (every containing block is a
  candidate; precedence prefers the longest prefix); `domain` and `sni` against domain
  indicators, the name itself (`HOST`) and each parent (`PARENT_DOMAIN`); `url` against URL
  indicators. All of these are one entity, the connection, decided as `EntityKind.NETWORK`.
  When `domain` is missing, the URL's host stands in for it.
- URLs: the scheme is ignored (an indicator on `https://h/p` also covers `http://h/p`; the same
  host serves both), host and port must be equal. An indicator without a query matches its path
  and every path under it at a segment boundary (`/a` matches `/a`, `/a/`, `/a/b`, not `/ab`),
  with any query. An indicator with a query matches only that exact path and query; it counts
  one more segment than its path, so it beats the bare path.
- Scope: candidates scoped to other device groups are dropped; a missing `device_group` is
  "Ungrouped devices".
"""

from __future__ import annotations

from typing import AnyStr

from iocd.domain.accounts import UNGROUPED
from iocd.domain.decision import Candidate, EntityKind, FileContext, MatchKind
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import IndicatorType
from iocd.matching.addresses import ip_packed
from iocd.matching.index import KIND_CODE, CompiledIndex, EntityDecision, Part
from iocd.policy.precedence import decide

__all__ = [
    "FILE_CONTEXTS",
    "TRUSTED",
    "decide_event",
    "domain_keys",
    "match_event",
    "url_host",
    "url_keys",
]

_FILE_FIELDS = (
    ("sha256", IndicatorType.FILE_SHA256),
    ("sha1", IndicatorType.FILE_SHA1),
    ("md5", IndicatorType.FILE_MD5),
    ("signer_thumbprint", IndicatorType.CERTIFICATE_THUMBPRINT),
)
_FILE_KIND = {
    IndicatorType.FILE_SHA256: KIND_CODE[MatchKind.SHA256],
    IndicatorType.FILE_SHA1: KIND_CODE[MatchKind.SHA1],
    IndicatorType.FILE_MD5: KIND_CODE[MatchKind.MD5],
    IndicatorType.CERTIFICATE_THUMBPRINT: KIND_CODE[MatchKind.CERTIFICATE],
}
_FILE_TYPES = tuple((t, _FILE_KIND[t]) for _, t in _FILE_FIELDS)
"""`_FILE_FIELDS` in order: the indicator type and match kind of an event's sha256, sha1,
md5 and signer_thumbprint (which `_file_rows` reads directly)."""
HOST, PARENT, URL, IP, CIDR = (
    KIND_CODE[MatchKind.HOST],
    KIND_CODE[MatchKind.PARENT_DOMAIN],
    KIND_CODE[MatchKind.URL],
    KIND_CODE[MatchKind.IP],
    KIND_CODE[MatchKind.CIDR],
)
_MAPPED = 0xFFFF << 32
_CACHE_LIMIT = 65_536


def domain_keys(name: str) -> list[tuple[str, int]]:
    """The name and each parent with at least two labels, with the match kind each would be."""
    return _domain_keys(name, ".")


def _domain_keys(name: AnyStr, dot_mark: AnyStr) -> list[tuple[AnyStr, int]]:
    """`domain_keys` of text or of its UTF-8 bytes (the same keys, encoded)."""
    keys = [(name, HOST)]
    dot = name.find(dot_mark)
    while dot >= 0:
        following = name.find(dot_mark, dot + 1)
        if following < 0:
            break  # a single label: no domain indicator has fewer than two
        keys.append((name[dot + 1 :], PARENT))
        dot = following
    return keys


def url_keys(url: str) -> list[str]:
    """The URL-indicator keys (no scheme) that would match `url`: with its query, then the path
    and every shorter path at a segment boundary, with and without the trailing slash."""
    return _url_keys(url, "://", "?", "/")


def _url_keys(url: AnyStr, scheme: AnyStr, query: AnyStr, slash: AnyStr) -> list[AnyStr]:
    """`url_keys` of text or of its UTF-8 bytes (the same keys, encoded)."""
    rest = url.partition(scheme)[2] if scheme in url else url
    path, mark, _ = rest.partition(query)
    keys = [rest] if mark else []
    start = path.find(slash)
    if start < 0:
        path += slash
        start = len(path) - 1
    keys.append(path)
    cut = path.rfind(slash)
    if cut == len(path) - 1:  # a trailing slash: `/a/` is also under `/a`
        if cut > start:
            keys.append(path[:cut])
        cut = path.rfind(slash, 0, cut)
    while cut >= start:
        keys.append(path[: cut + 1])
        if cut > start:
            keys.append(path[:cut])
        cut = path.rfind(slash, 0, cut) if cut > start else -1
    return keys


def domain_byte_keys(name: str) -> tuple[list[bytes], list[int]]:
    """`domain_keys` as UTF-8 bytes (what a NameTable holds), and their match kinds."""
    pairs = _domain_keys(name.encode(), b".")
    return [key for key, _ in pairs], [kind for _, kind in pairs]


def url_byte_keys(url: str) -> list[bytes]:
    """`url_keys` as UTF-8 bytes (what a NameTable holds)."""
    return _url_keys(url.encode(), b"://", b"?", b"/")


def url_host(url: str) -> str | None:
    """The host of a canonical URL, when it is a name (not an address)."""
    rest = url.partition("://")[2]
    end = len(rest)
    for mark in "/?":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    host = rest[:end]
    if host.startswith("["):
        return None
    return host.rpartition(":")[0] if ":" in host else host


def _file_rows(index: CompiledIndex, event: TelemetryEvent) -> dict[int, int]:
    found: dict[int, int] = {}
    texts = (event.sha256, event.sha1, event.md5, event.signer_thumbprint)
    if not any(texts):
        return found
    digests = []
    for (indicator_type, kind), text in zip(_FILE_TYPES, texts, strict=True):
        if text:
            try:
                digests.append((indicator_type, kind, bytes.fromhex(text)))
            except ValueError:
                continue
    for part, offset in index.parts():
        for indicator_type, kind, digest in digests:
            table = part.exact.get(indicator_type)
            if table is None:
                continue
            value = table.find_one(digest)
            if value >= 0:
                for row in table.rows(value):
                    found[offset + row] = kind
    return found


def _network_rows(index: CompiledIndex, event: TelemetryEvent) -> dict[int, int]:
    found: dict[int, int] = {}
    address, domain, sni, url = event.remote_ip, event.domain, event.sni, event.url
    if not (address or domain or sni or url):
        return found
    names = [n.encode() for n in (domain, sni) if n]
    if url and not domain:
        host = url_host(url)
        if host:
            names.append(host.encode())
    packed = ip_packed(address) if address else None
    number = int.from_bytes(packed[0], "big") if packed is not None else -1
    keys: list[bytes] | None = None
    for part, offset in index.parts():
        if packed is not None:
            _address_rows(found, part, offset, packed[0], number)
        table = part.domains
        if names and table is not None:
            for name in names:
                for value, parent in table.find_domain(name):
                    kind = PARENT if parent else HOST
                    for row in table.rows(value):
                        row += offset
                        known = found.get(row)
                        if known is None or kind < known:  # the closest match of the row
                            found[row] = kind
        table = part.urls
        if url and table is not None:
            if keys is None:
                keys = url_byte_keys(url)
            for _, value in table.find_keys(keys):
                for row in table.rows(value):
                    found[offset + row] = URL
    return found


def _address_rows(
    found: dict[int, int], part: Part, offset: int, packed: bytes, number: int
) -> None:
    """The rows of the address (16 `packed` bytes, as an integer `number`): its exact
    indicators and every CIDR block containing it."""
    if part.ip is not None:
        value = part.ip.find_one(packed)
        if value >= 0:
            for row in part.ip.rows(value):
                found[offset + row] = IP
    cidrs = part.cidrs
    if cidrs is None:
        return
    if _MAPPED <= number < _MAPPED + (1 << 32):
        chain = cidrs.chain_of_v4(number - _MAPPED)
    else:
        chain = cidrs.chain_of_v6(number)
    if chain < 0:
        return
    for value in cidrs.chains[chain]:
        for row in cidrs.rows(value):
            found[offset + row] = CIDR


def _candidates(index: CompiledIndex, found: dict[int, int], group: str) -> tuple[Candidate, ...]:
    dead = index.dead_row_set if index.overlay_size else frozenset()
    out = []
    for row, kind in found.items():
        if row in dead:
            continue
        candidate = index.candidate(row, kind)
        if candidate.indicator.applies_to(group):
            out.append(candidate)
    return tuple(out)


def match_event(index: CompiledIndex, event: TelemetryEvent) -> list[Candidate]:
    """Every candidate of the event (file ones first) that applies to its device group."""
    group = event.device_group or UNGROUPED
    found = _candidates(index, _file_rows(index, event), group)
    return [*found, *_candidates(index, _network_rows(index, event), group)]


def decide_event(index: CompiledIndex, event: TelemetryEvent) -> list[EntityDecision]:
    """The decision for the event's file and for its connection, for those that match."""
    group = event.device_group or UNGROUPED
    out: list[EntityDecision] = []
    rows = _file_rows(index, event)
    if rows:
        context = 2 * bool(event.signature_valid) + bool(event.signer_trusted)
        decided = _remembered(index, rows, group, 1 + context)
        if decided is not None:
            out.append(decided)
    rows = _network_rows(index, event)
    if rows:
        decided = _remembered(index, rows, group, _NETWORK_CODE)
        if decided is not None:
            out.append(decided)
    return out


_NETWORK_CODE = 0
FILE_CONTEXTS = tuple(FileContext(bool(v), bool(t)) for v in (0, 1) for t in (0, 1))
"""A file's signature context by its trust code, `2 * signature_valid + signer_trusted`
(`_remembered` takes 1 + that code for a file, 0 for a connection)."""
TRUSTED = 3
"""The trust code of a file validly signed by a trusted publisher."""
_MISSING = object()


def _remembered(
    index: CompiledIndex, rows: dict[int, int], group: str, code: int
) -> EntityDecision | None:
    """The outcome for matched rows, remembered by the rows themselves (cheaper to hash than
    the candidates; rows, scopes and tombstones are fixed within one index version). `code`
    is the entity and file context (`FILE_CONTEXTS`); one matched row, the usual case, is keyed
    by its (row, kind) pair, more by their set."""
    matched = next(iter(rows.items())) if len(rows) == 1 else frozenset(rows.items())
    key = (code, group, matched)
    cache = index.row_decisions
    found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    if code == _NETWORK_CODE:
        entity, context = EntityKind.NETWORK, None
    else:
        entity, context = EntityKind.FILE, FILE_CONTEXTS[code - 1]
    decided = entity_decision(index, _candidates(index, rows, group), group, entity, context)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = decided
    return decided


def entity_decision(
    index: CompiledIndex,
    candidates: tuple[Candidate, ...],
    group: str,
    entity: EntityKind,
    context: FileContext | None,
) -> EntityDecision | None:
    """`decide` for one entity, remembered per index version (the same hits repeat)."""
    if not candidates:
        return None
    key = (entity, frozenset(candidates), group, context)
    cache = index.decisions
    found = cache.get(key)
    if found is None:
        decision = decide(candidates, device_group=group, entity=entity, file=context)
        found = EntityDecision(entity, decision, candidates)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = found
    return found
