"""What the STIX and MISP codecs share: loading one JSON document, the caller's defaults, skips.

Both formats arrive as one JSON document, so the document is checked whole, before any item is
yielded: a malformed or oversized file fails with one InvalidInput and nothing is imported.
Its big arrays (a bundle's objects, an event's attributes) are decoded one element at a time
(codecs.json_lazy), so memory is about the file's size, itself at most MAX_DOCUMENT_BYTES.
After that, items are yielded one at a time as CsvRow (an indicator) or RowFailure (an item
that failed or was skipped); the item number stands where a CSV has its line number.
A skip is a RowFailure whose reason starts with SKIPPED, so a door can tell the two apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Literal

from iocd.codecs.json_lazy import Plan, decode_lazily
from iocd.codecs.rows import UTF8_BOM, RowFailure, echo
from iocd.domain.drafts import build_fields
from iocd.domain.import_results import SKIPPED
from iocd.domain.indicator import IndicatorFields, resolve_generate_alert
from iocd.domain.scope import check_group_names
from iocd.domain.types import Action, IndicatorType, Severity, parse_action, parse_severity
from iocd.errors import InvalidInput

READ_CHUNK = 1 << 20

__all__ = ["SKIPPED", "ImportDefaults", "load_document", "skipped", "sniff_json_format"]

MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
"""Largest STIX bundle or MISP document read (a 200,000-attribute event is about 100 MB)."""


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """What the caller chooses for every imported indicator; the document does not say it.

    `expiration_time` applies where the item itself names no expiry.
    """

    action: Action
    severity: Severity | None = None
    expiration_time: datetime | None = None
    rbac_group_names: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        action: Action | str,
        severity: Severity | str | None = None,
        expiration_time: datetime | None = None,
        rbac_group_names: Iterable[str] = (),
    ) -> ImportDefaults:
        """Checked once, before any item (InvalidInput if a default is wrong)."""
        chosen = action if isinstance(action, Action) else parse_action(action)
        resolve_generate_alert(chosen, None)
        if isinstance(severity, str) and not isinstance(severity, Severity):
            severity = parse_severity(severity) if severity.strip() else None
        return cls(chosen, severity, expiration_time, check_group_names(rbac_group_names))

    def fields(
        self,
        indicator_type: IndicatorType,
        value: str,
        *,
        title: str,
        description: str | None,
        expiration_time: datetime | None = None,
        external_id: str | None = None,
        category: str | None = None,
        mitre_techniques: Iterable[str] = (),
    ) -> IndicatorFields:
        """Validated fields for one value (InvalidInput naming the first bad field)."""
        return build_fields(
            indicator_type=indicator_type,
            value=value,
            action=self.action,
            title=title[:1024],
            description=(description or title)[:8192],
            severity=self.severity,
            expiration_time=expiration_time or self.expiration_time,
            external_id=external_id,
            category=category,
            mitre_techniques=mitre_techniques,
            rbac_group_names=self.rbac_group_names,
        )


def skipped(item: int, reason: str, raw: str) -> RowFailure:
    return RowFailure(item, SKIPPED + reason, echo(raw))


def load_document(
    stream: BinaryIO, *, max_bytes: int = MAX_DOCUMENT_BYTES, plan: Plan | None = None
) -> Any:
    """The parsed JSON document, or InvalidInput saying why it cannot be read (nothing else).

    With a `plan`, the arrays it names stay lazy (codecs.json_lazy): memory is then about the
    file's size, not ten times it; the whole document is still checked before returning."""
    data = _read_at_most(stream, max_bytes)
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("FILE", f"is not UTF-8 JSON (byte {exc.start})") from None
    del data  # the text alone from here on
    try:
        return decode_lazily(text, plan) if plan is not None else json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "FILE", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput("FILE", "is JSON nested too deeply to read") from None


def _read_at_most(stream: BinaryIO, max_bytes: int) -> bytes:
    """The stream's bytes; InvalidInput past `max_bytes` (read in chunks: reading the limit at
    once would allocate all of it whatever the file's size)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise InvalidInput(
                "FILE", f"is larger than {max_bytes:,} bytes, the limit for JSON input"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def sniff_json_format(first_bytes: bytes) -> Literal["stix", "misp"] | None:
    """ "stix" for a STIX bundle, "misp" for a MISP event or search result, None otherwise.

    Looks only at a prefix of the file (a few KiB): the keys that open the document.
    """
    text = first_bytes.removeprefix(UTF8_BOM).decode("utf-8", "replace").lstrip()
    if not text.startswith("{"):
        return None
    head = text[:8192]
    if '"type"' in head and '"bundle"' in head and '"objects"' in head:
        return "stix"
    if '"type": "bundle"' in head or '"type":"bundle"' in head:
        return "stix"
    if any(key in head for key in ('"Event"', '"response"', '"Attribute"')):
        return "misp"
    return None
