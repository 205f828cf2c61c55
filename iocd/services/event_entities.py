"""Events and the entities in them, as the detection engine needs them: which value an
indicator matched (the alert's entity, the key of its deduplication), how an entity is shown,
the matched rows of a batch as events, and the event `explain` decides on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.decision import EntityKind, ListedIndicator
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import IndicatorType
from iocd.domain.values import normalise
from iocd.matching.columns import batch_to_events


def matched_entity(indicator: ListedIndicator, event: TelemetryEvent) -> tuple[str, str]:
    """The MDE evidence type and the canonical value of what the indicator matched in the
    event: alerts are deduplicated per (indicator, device, this value)."""
    e = event
    return matched_value(indicator, e.sha256, e.sha1, e.md5, e.remote_ip, e.url, e.domain, e.sni)


def matched_value(
    indicator: ListedIndicator,
    sha256: str | None,
    sha1: str | None,
    md5: str | None,
    remote_ip: str | None,
    url: str | None,
    domain: str | None,
    sni: str | None,
) -> tuple[str, str]:
    """`matched_entity` from the event's values (a scan takes them a column at a time)."""
    kind = indicator.indicator_type
    if kind is IndicatorType.FILE_SHA1:
        return "File", sha1 or sha256 or md5 or indicator.value
    if kind is IndicatorType.FILE_MD5:
        return "File", md5 or sha256 or sha1 or indicator.value
    if kind.is_file_hash or kind is IndicatorType.CERTIFICATE_THUMBPRINT:  # SHA-256, signer
        return "File", sha256 or sha1 or md5 or indicator.value
    if kind is IndicatorType.IP_ADDRESS:
        return "Ip", remote_ip or indicator.value
    if kind is IndicatorType.URL:
        return "Url", url or indicator.value
    for name in (domain, sni):
        if name and (name == indicator.value or name.endswith("." + indicator.value)):
            return "Domain", name
    return "Domain", indicator.value


def entity_of(kind: EntityKind, event: TelemetryEvent) -> tuple[str, str]:
    """How an entity of an event is shown: a file by its strongest hash, a connection by its
    URL, else its name, else its address."""
    if kind is EntityKind.FILE:
        value = event.sha256 or event.sha1 or event.md5 or event.signer_thumbprint
        return "File", value or ""
    if event.url:
        return "Url", event.url
    if event.domain or event.sni:
        return "Domain", event.domain or event.sni or ""
    return "Ip", event.remote_ip or ""


def matched_events(batch: pa.RecordBatch, rows: Any) -> dict[int, TelemetryEvent]:
    """The events of the matched rows, made in one conversion: only they become objects."""
    unique = np.unique(rows)
    if not len(unique):
        return {}
    taken = batch.take(pa.array(unique))
    return dict(zip(unique.tolist(), batch_to_events(taken), strict=True))


_ENTITY_TYPES = {
    "sha256": IndicatorType.FILE_SHA256,
    "sha1": IndicatorType.FILE_SHA1,
    "md5": IndicatorType.FILE_MD5,
    "certificate": IndicatorType.CERTIFICATE_THUMBPRINT,
    "ip": IndicatorType.IP_ADDRESS,
    "domain": IndicatorType.DOMAIN_NAME,
    "url": IndicatorType.URL,
}
"""What `explain` accepts (sha256=..., ip=...) and the type whose normaliser reads it."""


def explain_event(
    device_id: str, name: str, group: str, entity: Mapping[str, str], clock: Clock
) -> TelemetryEvent:
    """An event carrying the entities to explain, each normalised as an indicator value of
    its type would be (a bad value raises InvalidValue naming it)."""
    values = {
        key: normalise(_ENTITY_TYPES[key], raw)
        for key, raw in entity.items()
        if key in _ENTITY_TYPES
    }
    is_file = any(k in values for k in ("sha256", "sha1", "md5", "certificate"))
    return TelemetryEvent(
        time=clock.now(),
        kind=EventKind.FILE if is_file else EventKind.NETWORK,
        device_id=device_id,
        device_name=name,
        sha256=values.get("sha256"),
        sha1=values.get("sha1"),
        md5=values.get("md5"),
        signer_thumbprint=values.get("certificate"),
        remote_ip=values.get("ip"),
        domain=values.get("domain"),
        url=values.get("url"),
        source="explain",
        device_group=group,
    )
