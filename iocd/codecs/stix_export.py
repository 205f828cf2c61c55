"""Indicators out as a STIX 2.1 bundle that stix2-validator accepts, written as a stream.

Each indicator becomes one STIX `indicator`:
- `id`: `indicator--` + uuid5(STIX_NAMESPACE, "iocd-indicator:<id>") with its version bits set to
  4 (STIX asks for UUIDv4 ids; the validator's strict mode refuses others): stable across
  exports, so a consumer sees a re-export as the same objects (a change gets a newer `modified`);
- `pattern`: one comparison (`[ipv4-addr:value = '203.0.113.0/24']`, `[file:hashes.'SHA-256' =
  '...']`, `[x509-certificate:hashes.'SHA-1' = '...']`...), the one codecs.stix reads back;
- `valid_from` = creation time, `valid_until` = expiry; `name` = title; `description`;
- `indicator_types`: `benign` for Allowed, else `malicious-activity`;
- category as a MITRE ATT&CK kill-chain phase, techniques as ATT&CK external references;
- action, severity and device groups as `labels` (`iocd-action:Block`...), for people.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from iocd.domain.indicator import Indicator
from iocd.domain.types import Action, IndicatorType

STIX_NAMESPACE = uuid.UUID("6f1b6a4e-3c1d-5b3e-9d2a-1f0c1d0e10cd")
"""Namespace of iocd's STIX ids; never change it, or every exported id changes."""
ACTION_LABEL = "iocd-action:"
SEVERITY_LABEL = "iocd-severity:"
GROUP_LABEL = "iocd-device-group:"

PATTERN_PATHS = {
    IndicatorType.FILE_SHA256: "file:hashes.'SHA-256'",
    IndicatorType.FILE_SHA1: "file:hashes.'SHA-1'",
    IndicatorType.FILE_MD5: "file:hashes.MD5",
    IndicatorType.CERTIFICATE_THUMBPRINT: "x509-certificate:hashes.'SHA-1'",
    IndicatorType.DOMAIN_NAME: "domain-name:value",
    IndicatorType.URL: "url:value",
}


def stix_id(indicator_id: int) -> str:
    """The stable STIX id of an iocd indicator."""
    derived = uuid.uuid5(STIX_NAMESPACE, f"iocd-indicator:{indicator_id}")
    return f"indicator--{uuid.UUID(bytes=derived.bytes, version=4)}"


def pattern_of(indicator_type: IndicatorType, value: str) -> str:
    """The STIX pattern naming exactly this canonical value."""
    if indicator_type is IndicatorType.IP_ADDRESS:
        path = "ipv6-addr:value" if ":" in value else "ipv4-addr:value"
    else:
        path = PATTERN_PATHS[indicator_type]
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{path} = '{quoted}']"


def timestamp(value: datetime) -> str:
    """STIX timestamp: UTC, millisecond precision, trailing Z."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_stix(
    indicator: Indicator, *, modified_at: datetime | None = None, revoked: bool = False
) -> dict[str, Any]:
    """The STIX 2.1 indicator object for one iocd indicator. `modified_at` (default: the last
    update) and `revoked` let a feed serve a withdrawn indicator as its revoked version."""
    fields = indicator.fields
    created = timestamp(indicator.created_at)
    modified = timestamp(modified_at or max(indicator.last_updated_at, indicator.created_at))
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id(indicator.id),
        "created": created,
        "modified": modified,
        "name": fields.title,
        "description": fields.description,
        "indicator_types": ["benign" if fields.action is Action.ALLOWED else "malicious-activity"],
        "pattern": pattern_of(fields.indicator_type, fields.value),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": created,
    }
    expiry = fields.expiration_time
    if expiry is not None:
        if expiry <= indicator.created_at:  # valid_until must come after valid_from
            obj["valid_from"] = timestamp(expiry - timedelta(seconds=1))
        obj["valid_until"] = timestamp(expiry)
    if fields.category:
        phase = "".join(f"-{c.lower()}" if c.isupper() else c for c in fields.category)
        obj["kill_chain_phases"] = [{"kill_chain_name": "mitre-attack", "phase_name": phase[1:]}]
    if fields.mitre_techniques:
        obj["external_references"] = [
            {"source_name": "mitre-attack", "external_id": technique}
            for technique in fields.mitre_techniques
        ]
    labels = [ACTION_LABEL + fields.action.value, SEVERITY_LABEL + fields.severity.value]
    labels += [GROUP_LABEL + name for name in fields.rbac_group_names]
    obj["labels"] = labels
    if revoked:
        obj["revoked"] = True
    return obj


def write_stix(
    indicators: Iterable[Indicator], stream: TextIO, *, bundle_id: str | None = None
) -> int:
    """Write one bundle holding an indicator object per indicator; returns how many.

    Objects are written one by one, so memory does not grow with the selection.
    """
    bundle = bundle_id or f"bundle--{uuid.uuid4()}"
    stream.write('{"type": "bundle", "id": ' + json.dumps(bundle) + ', "objects": [')
    count = 0
    for indicator in indicators:
        stream.write(",\n" if count else "\n")
        stream.write(json.dumps(to_stix(indicator), ensure_ascii=False))
        count += 1
    stream.write("\n]}\n")
    return count
