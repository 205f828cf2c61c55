"""Suricata rules and the lists they load (Suricata 7).

One rule per network indicator (the action: `drop` for Block and BlockAndRemediate, `alert`
for Warn; in IDS mode `drop` alerts too):
- an address or CIDR block: `ip any any <> ADDRESS any`, both directions;
- a domain: three rules, on `dns.query`, `tls.sni` and `http.host`, each `dotprefix` and
  `endswith`, so the domain and every subdomain match (or, with domains as a dataset, the
  exact names go to the iocd-domains-* datasets, which six fixed rules load);
- a URL: `http.host` equal to its host and `http.uri` equal to its path and query, or, without
  a query, the path and anything under it at a segment boundary (the scheme and port are not
  looked at: HTTPS paths are not visible on the wire anyway).
File hashes go to hash lists (`filesha256:iocd-sha256-drop.lst` and the like, one hex hash a
line) loaded by one rule per non-empty list, at the end of the rules; Suricata refuses an
empty hash list, so a list without entries has no rule. Lists are read from the directory of
the rules file.

Sids: each indicator owns four, `sid_base + 64 + 4 * id + n`, so a rule keeps its sid across
versions, and `rev` is the indicator's change-sequence value; `sid_base` to `sid_base + 63` are
the list rules. Pure, streamed (one block of lines per chunk of entries; list lines go to
the sink a block per list and chunk).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from iocd.codecs.outputs.header import footer, header
from iocd.domain.outputs import (
    ACTION,
    ACTION_TEXT,
    BLOCKING,
    ID,
    SEQUENCE,
    SEVERITY,
    SEVERITY_TEXT,
    SURICATA_LISTS,
    TITLE,
    TYPE,
    TYPE_TEXT,
    VALUE,
    Selection,
    SuricataList,
)
from iocd.domain.types import IndicatorType

__all__ = ["list_line", "list_of", "render_list", "render_rules"]

ListSink = Callable[[SuricataList, str], None]
"""Where the rules renderer sends each list line (the CLI writes the list files with it)."""
RESERVED_SIDS = 64
SIDS_PER_INDICATOR = 4
_MAX_TEXT = 120
_DOMAIN_BUFFERS = (
    ("dns", "dns.query", True),
    ("tls", "tls.sni", True),
    ("http", "http.host", False),
)
_LIST_NAMES = list(SURICATA_LISTS)


_BLOCKING_TEXT = frozenset(a.value for a in BLOCKING)
_DOMAIN = IndicatorType.DOMAIN_NAME.value
_IP = IndicatorType.IP_ADDRESS.value
_URL = IndicatorType.URL.value
_LIST_BY = {
    (found.indicator_type.value, action.value): found
    for found in SURICATA_LISTS.values()
    for action in found.actions
}


def rule_action(action: str) -> str:
    """`drop` for Block and BlockAndRemediate (wire text), `alert` otherwise."""
    return "drop" if action in _BLOCKING_TEXT else "alert"


def list_of(kind: str, action: str, domains_as_dataset: bool) -> SuricataList | None:
    """The list an entry of this type and action (wire text) belongs to (hashes always,
    domains in dataset mode), or None."""
    if kind == _DOMAIN and not domains_as_dataset:
        return None
    return _LIST_BY.get((kind, action))


def list_line(found: SuricataList, value: str) -> str:
    """Hash lists hold hex; datasets of type string hold base64."""
    if found.indicator_type is IndicatorType.DOMAIN_NAME:
        return base64.b64encode(value.encode()).decode("ascii") + "\n"
    return value + "\n"


_UNSAFE_CONTENT = re.compile(r'[";\\|]|[^\x20-\x7e]')


def _msg(text: str) -> str:
    clean = text[:_MAX_TEXT]
    if not clean.isprintable():
        clean = "".join(c if c.isprintable() else " " for c in clean)
    if '"' in clean or ";" in clean or "\\" in clean:
        clean = clean.replace("\\", "\\\\").replace('"', '\\"').replace(";", "\\;")
    return clean


def _content(text: str) -> str:
    """A content string with the characters a rule cannot hold written as hex."""
    if not _UNSAFE_CONTENT.search(text):
        return text
    out = []
    for char in text:
        if char in '";\\|' or not char.isprintable() or not char.isascii():
            out.append("".join(f"|{b:02X}|" for b in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def _pcre_literal(text: str) -> str:
    return "".join(c if c.isalnum() else "".join(f"\\x{b:02x}" for b in c.encode()) for c in text)


class _Entry(NamedTuple):
    """One entry's fields as the rules write them (wire text)."""

    id: int
    kind: str
    value: str
    action: str
    severity: str
    title: str
    sequence: int


def _rules(action: str, parts: list[tuple[str, str, int]], entry: _Entry) -> list[str]:
    """Rules of one entry (header, match, sid each), sharing its msg and metadata; msg first,
    then the match, then metadata, sid and rev."""
    message = _msg(f"iocd {entry.action} {entry.kind} {entry.value}")
    msg = f'msg:"{message} ({_msg(entry.title)})"; '
    metadata = f"metadata:iocd_id {entry.id}, iocd_severity {entry.severity}; "
    rev = f"rev:{max(entry.sequence, 1)};)\n"
    return [
        f"{action} {header} ({msg}{match + ' ' if match else ''}{metadata}sid:{sid}; {rev}"
        for header, match, sid in parts
    ]


def _split_url(value: str) -> tuple[str, str]:
    rest = value.partition("://")[2]
    end = len(rest)
    for mark in "/?":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    host, target = rest[:end], rest[end:] or "/"
    if host.startswith("["):
        host = host[: host.find("]") + 1]
    elif ":" in host:
        host = host.rpartition(":")[0]
    if target.startswith("?"):
        target = "/" + target
    return host, target


def entry_rules(entry: _Entry, sid_base: int) -> list[str]:
    action = rule_action(entry.action)
    first = sid_base + RESERVED_SIDS + SIDS_PER_INDICATOR * entry.id
    kind = entry.kind
    if kind == _IP:
        return _rules(action, [(f"ip any any <> [{entry.value}] any", "", first)], entry)
    if kind == _DOMAIN:
        dotted = _content("." + entry.value)
        parts = [
            (
                f"{protocol} any any -> any any",
                f'{buffer}; dotprefix; content:"{dotted}"; endswith;{" nocase;" if nocase else ""}',
                first + n,
            )
            for n, (protocol, buffer, nocase) in enumerate(_DOMAIN_BUFFERS)
        ]
        return _rules(action, parts, entry)
    if kind == _URL:
        host, target = _split_url(entry.value)
        match = f'http.host; content:"{_content(host)}"; bsize:{len(host.encode())};'
        if "?" in target:
            match += f' http.uri; content:"{_content(target)}"; bsize:{len(target.encode())};'
        elif target != "/":
            path = target.rstrip("/") or "/"
            match += (
                f' http.uri; content:"{_content(path)}"; startswith; '
                f'pcre:"/^{_pcre_literal(path)}(?:[\\x2f?]|$)/";'
            )
        return _rules(action, [("http any any -> any any", match, first)], entry)
    return []


def _list_rules(found: SuricataList, sid: int) -> Iterator[str]:
    action = found.rule_action
    message = f'msg:"iocd {found.name}"'
    if found.indicator_type is IndicatorType.DOMAIN_NAME:
        dataset = f"dataset:isset,{found.name},type string,load {found.file_name}"
        for n, (protocol, buffer, _) in enumerate(_DOMAIN_BUFFERS):
            yield (
                f"{action} {protocol} any any -> any any ({message}; {buffer}; to_lowercase; "
                f"{dataset}; sid:{sid + n}; rev:1;)\n"
            )
        return
    keyword = "file" + found.indicator_type.value.removeprefix("File").lower()
    yield (
        f"{action} ip any any -> any any ({message}; {keyword}:{found.file_name}; "
        f"sid:{sid}; rev:1;)\n"
    )


def render_rules(selection: Selection, on_list: ListSink | None = None) -> Iterator[str]:
    """The rules file; list lines go to `on_list` (dropped without one: fetch the lists
    from their own URLs), and a hash list gets its rule once it has an entry."""
    request = selection.request
    as_dataset = request.suricata_domains == "dataset"
    yield from header(selection, "Suricata rules")
    filled: set[str] = set()
    tally = selection.tally
    sid_base = request.sid_base
    for chunk in selection.chunks():
        tally.written += len(chunk)
        out: list[str] = []
        lists: dict[str, list[str]] = {}
        for row in chunk.rows:
            kind, action = TYPE_TEXT[row[TYPE]], ACTION_TEXT[row[ACTION]]
            found = list_of(kind, action, as_dataset)
            if found is None:
                severity = SEVERITY_TEXT[row[SEVERITY]]
                entry = _Entry(
                    row[ID], kind, row[VALUE], action, severity, row[TITLE], row[SEQUENCE]
                )
                out.extend(entry_rules(entry, sid_base))
                continue
            filled.add(found.name)
            lists.setdefault(found.name, []).append(list_line(found, row[VALUE]))
        if on_list is not None:
            for name, lines in lists.items():
                on_list(SURICATA_LISTS[name], "".join(lines))
        if out:
            yield "".join(out)
    for index, name in enumerate(_LIST_NAMES):
        found = SURICATA_LISTS[name]
        is_dataset = found.indicator_type is IndicatorType.DOMAIN_NAME
        if (is_dataset and as_dataset) or (not is_dataset and name in filled):
            yield from _list_rules(found, request.sid_base + 3 * index)
    yield from footer(selection, noun="indicators")


def render_list(selection: Selection) -> Iterator[str]:
    """One list of the rules (request.name), for the same selection as the rules."""
    wanted = SURICATA_LISTS[selection.request.name]
    as_dataset = selection.request.suricata_domains == "dataset" or (
        wanted.indicator_type is IndicatorType.DOMAIN_NAME
    )
    for chunk in selection.chunks():
        lines = [
            list_line(wanted, row[VALUE])
            for row in chunk.rows
            if list_of(TYPE_TEXT[row[TYPE]], ACTION_TEXT[row[ACTION]], as_dataset) is wanted
        ]
        if lines:
            selection.tally.written += len(lines)
            yield "".join(lines)
