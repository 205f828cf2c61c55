"""What the STIX and MISP codecs share: loading one JSON document, the caller's defaults, skips.

Both formats arrive as one JSON document, so the document is parsed whole, before any item is
yielded: a malformed or oversized file fails with one InvalidInput and nothing is imported.
Memory is bounded by MAX_DOCUMENT_BYTES (the parsed document takes several times its size).
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

from iocd.codecs.rows import UTF8_BOM, RowFailure, echo
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorFields, resolve_generate_alert
from iocd.domain.scope import check_group_names
from iocd.domain.types import Action, IndicatorType, Severity, parse_action, parse_severity
from iocd.errors import InvalidInput

MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
"""Largest STIX bundle or MISP document read (a 200,000-attribute event is about 100 MB)."""
SKIPPED = "skipped: "
"""Prefix of the reason of an item left out on purpose (not an error in the input)."""


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


def load_document(stream: BinaryIO, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """The parsed JSON document, or InvalidInput saying why it cannot be read (nothing else)."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidInput("FILE", f"is larger than {max_bytes:,} bytes, the limit for JSON input")
    try:
        return json.loads(data.removeprefix(UTF8_BOM))
    except UnicodeDecodeError as exc:
        raise InvalidInput("FILE", f"is not UTF-8 JSON (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "FILE", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput("FILE", "is JSON nested too deeply to read") from None


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
