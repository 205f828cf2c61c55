"""Fixed entries and selections for the renderer tests and the real-tool tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from iocd.domain.outputs import OutputEntry, OutputRequest, Selection, spec_of
from iocd.domain.types import Action, IndicatorType, Severity

AT = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
MALWARE = b"iocd test sample: not malware, only listed as such\n"
"""A file whose hashes the samples block (the ClamAV test scans it)."""
SHA256 = hashlib.sha256(MALWARE).hexdigest()
SHA1 = hashlib.sha1(MALWARE).hexdigest()  # noqa: S324 (a file hash, not a signature)
MD5 = hashlib.md5(MALWARE).hexdigest()  # noqa: S324


def _entry(
    n: int,
    kind: IndicatorType,
    value: str,
    action: Action = Action.BLOCK,
    severity: Severity = Severity.HIGH,
    title: str = "sample",
) -> OutputEntry:
    return OutputEntry(n, kind, value, action, severity, title, AT + timedelta(minutes=n), 10 + n)


def sample_entries() -> list[OutputEntry]:
    """One entry of every shape an output meets, in id order."""
    d, u, i = IndicatorType.DOMAIN_NAME, IndicatorType.URL, IndicatorType.IP_ADDRESS
    return [
        _entry(1, d, "evil.example", title='C2; "quoted" \\ title'),
        _entry(2, d, "xn--bcher-kva.example", Action.WARN, Severity.LOW),
        _entry(3, i, "203.0.113.7"),
        _entry(4, i, "198.51.100.0/24", Action.WARN),
        _entry(5, i, "2001:db8::/32"),
        _entry(6, i, "2001:db8:0:1::7"),
        _entry(7, u, "http://bad.example/a/b"),
        _entry(8, u, "https://bad.example:8443/x;y?q=1&r=%22"),
        _entry(9, u, "http://203.0.113.9/"),
        _entry(10, IndicatorType.FILE_SHA256, SHA256),
        _entry(11, IndicatorType.FILE_SHA1, SHA1, Action.BLOCK_AND_REMEDIATE),
        _entry(12, IndicatorType.FILE_MD5, MD5),
    ]


def selection(
    request: OutputRequest,
    entries: Sequence[OutputEntry],
    *,
    passthru: Sequence[str] = (),
    omitted: int = 0,
) -> Selection:
    """A selection as the service would make it, of the entries the output's spec takes."""
    spec = spec_of(request)
    chosen = [e for e in entries if e.indicator_type in spec.types and e.action in spec.actions]
    return Selection(
        request,
        sequence=42,
        changed_at=AT,
        entries=iter(chosen),
        view_groups=("Ungrouped devices",),
        omitted_by_cap=omitted,
        passthru=passthru,
    )
