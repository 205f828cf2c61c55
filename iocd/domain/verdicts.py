"""External verdicts: what another scanner posts to `POST /api/verdicts` (an iocd extension),
parsed once into a typed value and turned into an alert. Pure.

Body: `{"detector", "verdict": "Malicious|Suspicious|Benign", "deviceId", "deviceName",
"entityType": "File|Ip|Domain|Url", "sha256"|"sha1"|"md5"|"ip"|"domain"|"url", "title",
"severity", "time", "threatName"}`. Values are made canonical (SPEC section 2) so the list
decides on them exactly as on telemetry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from iocd.domain.alerts import EXTERNAL_SOURCE, Alert, AlertStatus, EntityType, Evidence
from iocd.domain.decision import Decision, Enforcement
from iocd.domain.indicator import check_text, parse_datetime
from iocd.domain.types import IndicatorType, Severity, parse_member, parse_severity
from iocd.domain.values import normalise
from iocd.errors import InvalidInput

EXTERNAL_INDICATOR_ID = 0
"""External alerts name no indicator; they dedupe on (0, device, entity)."""


class Verdict(StrEnum):
    MALICIOUS = "Malicious"
    SUSPICIOUS = "Suspicious"
    BENIGN = "Benign"


_KINDS: dict[str, tuple[tuple[str, IndicatorType], ...]] = {
    EntityType.FILE: (
        ("sha256", IndicatorType.FILE_SHA256),
        ("sha1", IndicatorType.FILE_SHA1),
        ("md5", IndicatorType.FILE_MD5),
    ),
    EntityType.IP: (("ip", IndicatorType.IP_ADDRESS),),
    EntityType.DOMAIN: (("domain", IndicatorType.DOMAIN_NAME),),
    EntityType.URL: (("url", IndicatorType.URL),),
}


@dataclass(frozen=True, slots=True)
class ExternalVerdict:
    detector: str
    verdict: Verdict
    device_id: str
    device_name: str
    entity_type: EntityType
    values: tuple[tuple[str, str], ...]
    """(kind, canonical value): sha256/sha1/md5 for files, else one of ip, domain, url."""
    title: str
    severity: Severity
    time: datetime
    threat_name: str | None = None

    @property
    def entity(self) -> str:
        return self.values[0][1]


def _text(data: Mapping[str, object], name: str, *, required: bool = False) -> str | None:
    raw = data.get(name)
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput(name, f"must be a string, not {type(raw).__name__}")
    text = check_text(name, raw, required=required)
    if required and not text:
        raise InvalidInput(name, "is required", "MissingRequiredParameter")
    return text


def parse_verdict(data: object, now: datetime) -> ExternalVerdict:
    """A POST body -> ExternalVerdict; InvalidInput naming the first bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    detector = _text(data, "detector", required=True) or ""
    verdict = parse_member(Verdict, _text(data, "verdict", required=True) or "", "verdict")
    device_id = _text(data, "deviceId", required=True) or ""
    entity_type = parse_member(
        EntityType, _text(data, "entityType", required=True) or "", "entityType"
    )
    values: list[tuple[str, str]] = []
    for kind, indicator_type in _KINDS[entity_type]:
        raw = _text(data, kind)
        if raw:
            values.append((kind, normalise(indicator_type, raw)))
    if not values:
        names = " or ".join(k for k, _ in _KINDS[entity_type])
        raise InvalidInput(names, f"a {entity_type.value} verdict needs {names}", "InvalidInput")
    when = _text(data, "time")
    severity = _text(data, "severity")
    title = _text(data, "title") or f"{detector}: {verdict.value} {entity_type.value.lower()}"
    return ExternalVerdict(
        detector=detector,
        verdict=verdict,
        device_id=device_id,
        device_name=_text(data, "deviceName") or device_id,
        entity_type=entity_type,
        values=tuple(values),
        title=title,
        severity=parse_severity(severity) if severity else Severity.MEDIUM,
        time=parse_datetime("time", when) if when else now,
        threat_name=_text(data, "threatName"),
    )


def verdict_alert(verdict: ExternalVerdict, group: str, now: datetime) -> Alert:
    """The alert an external verdict raises (id 0 until stored)."""
    values = dict(verdict.values)
    evidence = Evidence(
        entity_type=verdict.entity_type.value,
        time=verdict.time,
        last_seen=verdict.time,
        sha256=values.get("sha256"),
        sha1=values.get("sha1"),
        md5=values.get("md5"),
        ip_address=values.get("ip"),
        domain_name=values.get("domain"),
        url=values.get("url"),
    )
    rule = f"external verdict: {verdict.verdict.value} from {verdict.detector}"
    return Alert(
        id=0,
        indicator_id=EXTERNAL_INDICATOR_ID,
        title=verdict.title,
        description=f"{verdict.detector} reported this {verdict.entity_type.value.lower()} as "
        f"{verdict.verdict.value.lower()}.",
        severity=verdict.severity,
        status=AlertStatus.NEW,
        machine_id=verdict.device_id,
        computer_dns_name=verdict.device_name,
        rbac_group_name=group,
        entity_type=verdict.entity_type.value,
        entity=verdict.entity,
        created_at=now,
        last_updated_at=now,
        first_event_time=verdict.time,
        last_event_time=verdict.time,
        evidence=(evidence,),
        decision=Decision(Enforcement.NONE, True, None, rule),
        indicator_created_by=f"detector:{verdict.detector}",
        detection_source=EXTERNAL_SOURCE,
        threat_name=verdict.threat_name,
    )
