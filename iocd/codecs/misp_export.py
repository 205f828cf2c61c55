"""Indicators out as one MISP event (`{"Event": {...}}`) that PyMISP's MISPEvent loads.

Each indicator becomes one attribute: hashes `md5`/`sha1`/`sha256` and certificates
`x509-fingerprint-sha1` (category "Payload delivery"), addresses `ip-dst`, domains `domain`,
URLs `url` (category "Network activity"). `to_ids` is true except for Allowed indicators; the
attribute's uuid is uuid5(MISP_NAMESPACE, "iocd-indicator:<id>"), stable across exports; its
comment is the title (and the description when it differs). Techniques become
`misp-galaxy:mitre-attack-pattern="T1234"` tags and the category `iocd:category="X"` (codecs.misp
reads both back); action, severity and device groups become `iocd:action="Block"`-style tags for
people (an import takes those from its options). The event is written as a stream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from iocd.domain.indicator import Indicator
from iocd.domain.types import Action, IndicatorType

MISP_NAMESPACE = uuid.UUID("0b0f4cb4-0b5e-5a3e-8f63-4b4b7c9b8a31")
"""Namespace of iocd's MISP attribute uuids; never change it."""

ATTRIBUTE_TYPES = {
    IndicatorType.FILE_MD5: ("md5", "Payload delivery"),
    IndicatorType.FILE_SHA1: ("sha1", "Payload delivery"),
    IndicatorType.FILE_SHA256: ("sha256", "Payload delivery"),
    IndicatorType.CERTIFICATE_THUMBPRINT: ("x509-fingerprint-sha1", "Payload delivery"),
    IndicatorType.IP_ADDRESS: ("ip-dst", "Network activity"),
    IndicatorType.DOMAIN_NAME: ("domain", "Network activity"),
    IndicatorType.URL: ("url", "Network activity"),
}


def attribute_uuid(indicator_id: int) -> str:
    return str(uuid.uuid5(MISP_NAMESPACE, f"iocd-indicator:{indicator_id}"))


def to_attribute(indicator: Indicator) -> dict[str, Any]:
    """The MISP attribute for one iocd indicator."""
    fields = indicator.fields
    misp_type, category = ATTRIBUTE_TYPES[fields.indicator_type]
    comment = fields.title
    if fields.description and fields.description != fields.title:
        comment = f"{fields.title}: {fields.description}"
    tags = [f'iocd:action="{fields.action.value}"', f'iocd:severity="{fields.severity.value}"']
    tags += [f'misp-galaxy:mitre-attack-pattern="{t}"' for t in fields.mitre_techniques]
    if fields.category:
        tags.append(f'iocd:category="{fields.category}"')
    tags += [f'iocd:device-group="{name}"' for name in fields.rbac_group_names]
    return {
        "uuid": attribute_uuid(indicator.id),
        "type": misp_type,
        "category": category,
        "value": fields.value,
        "to_ids": fields.action is not Action.ALLOWED,
        "comment": comment,
        "timestamp": str(_epoch(indicator.last_updated_at)),
        "distribution": "5",
        "deleted": False,
        "disable_correlation": False,
        "Tag": [{"name": tag} for tag in tags],
    }


def write_misp(
    indicators: Iterable[Indicator],
    stream: TextIO,
    *,
    now: datetime,
    info: str = "Indicators exported from iocd",
    event_uuid: str | None = None,
) -> int:
    """Write one unpublished event holding an attribute per indicator; returns how many."""
    event = {
        "uuid": event_uuid or str(uuid.uuid4()),
        "info": info,
        "date": now.astimezone(UTC).date().isoformat(),
        "timestamp": str(_epoch(now)),
        "threat_level_id": "4",
        "analysis": "2",
        "distribution": "0",
        "published": False,
        "Tag": [{"name": "iocd:export"}],
    }
    head = json.dumps({"Event": event}, ensure_ascii=False)
    stream.write(head[:-2] + ', "Attribute": [')
    count = 0
    for indicator in indicators:
        stream.write(",\n" if count else "\n")
        stream.write(json.dumps(to_attribute(indicator), ensure_ascii=False))
        count += 1
    stream.write("\n]}}\n")
    return count


def _epoch(value: datetime) -> int:
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return int(utc.timestamp())
