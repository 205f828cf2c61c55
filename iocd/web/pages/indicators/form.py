"""The add/edit pane's form: raw text as typed (to show it again), and the draft it makes.

`IndicatorForm.from_form` reads a submitted form (and a .cer/.pem upload for certificates),
`from_query` the prefill of `/indicators/new?type=&value=&action=&title=`, `from_indicator` an
existing indicator for editing. `draft()` validates everything through domain.drafts (the same
rules as the API and CSV) and raises InvalidInput naming the first bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from iocd.domain.certificates import thumbprint_of_certificate
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import Indicator, IndicatorDraft
from iocd.domain.types import IndicatorType, parse_indicator_type
from iocd.domain.values import detect_type, homograph_notice, normalise
from iocd.errors import InvalidInput

MAX_CERTIFICATE_BYTES = 256 * 1024
TEXT_FIELDS = (
    "indicator_type",
    "value",
    "action",
    "title",
    "severity",
    "description",
    "recommended_actions",
    "category",
    "mitre_techniques",
    "expires_at",
    "justification",
)
FIELD_LABELS = {
    "indicatorType": "Type",
    "indicatorValue": "Value",
    "action": "Action",
    "title": "Title",
    "description": "Description",
    "severity": "Severity",
    "expirationTime": "Expires",
    "recommendedActions": "Recommended actions",
    "category": "Category",
    "mitreTechniques": "MITRE techniques",
    "rbacGroupNames": "Device groups",
    "generateAlert": "Generate an alert",
}


@dataclass(frozen=True, slots=True)
class Checked:
    """What the live validation answers for one value."""

    indicator_type: str = ""
    canonical: str = ""
    error: str = ""
    notice: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.indicator_type or None,
            "canonical": self.canonical or None,
            "error": self.error or None,
            "homograph": self.notice or None,
        }


def check_value(type_text: str, value: str) -> Checked:
    """The canonical form of `value` (its type detected when none is chosen), or the error."""
    text = value.strip()
    if not text:
        return Checked(type_text, error="Type a value.")
    try:
        kind = parse_indicator_type(type_text) if type_text else detect_type(text)
        canonical = normalise(kind, text)
    except InvalidInput as error:
        return Checked(type_text, error=error.reason)
    notice = ""
    if kind in (IndicatorType.DOMAIN_NAME, IndicatorType.URL):
        host = canonical.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        notice = homograph_notice(host) or ""
    return Checked(kind.value, canonical, "", notice)


@dataclass(frozen=True, slots=True)
class IndicatorForm:
    indicator_type: str = ""
    value: str = ""
    action: str = "Audit"
    title: str = ""
    severity: str = "Informational"
    description: str = ""
    recommended_actions: str = ""
    category: str = ""
    mitre_techniques: str = ""
    generate_alert: bool = True
    never_expires: bool = True
    expires_at: str = ""
    """`datetime-local` text, read as UTC."""
    groups: tuple[str, ...] = ()
    override: bool = False
    justification: str = ""
    target_id: int | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, Any], groups: tuple[str, ...]) -> IndicatorForm:
        text: dict[str, Any] = {name: str(form.get(name) or "").strip() for name in TEXT_FIELDS}
        chosen = cls(
            **text,
            generate_alert=form.get("generate_alert") == "on",
            never_expires=form.get("expiry") != "at",
            groups=groups,
            override=form.get("override") == "on",
        )
        upload: Any = form.get("certificate")
        data = upload.file.read(MAX_CERTIFICATE_BYTES + 1) if hasattr(upload, "file") else b""
        if data:
            if len(data) > MAX_CERTIFICATE_BYTES:
                raise InvalidInput("certificate", "is larger than 256 KiB")
            thumbprint = thumbprint_of_certificate(data)
            chosen = replace(
                chosen,
                value=thumbprint,
                indicator_type=IndicatorType.CERTIFICATE_THUMBPRINT.value,
            )
        return chosen

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> IndicatorForm:
        return cls(
            indicator_type=params.get("type", ""),
            value=params.get("value", ""),
            action=params.get("action", "") or "Audit",
            title=params.get("title", ""),
        )

    @classmethod
    def from_indicator(cls, indicator: Indicator) -> IndicatorForm:
        f = indicator.fields
        expiry = f.expiration_time
        return cls(
            indicator_type=f.indicator_type.value,
            value=f.value,
            action=f.action.value,
            title=f.title,
            severity=f.severity.value,
            description=f.description,
            recommended_actions=f.recommended_actions or "",
            category=f.category or "",
            mitre_techniques=", ".join(f.mitre_techniques),
            generate_alert=f.generate_alert,
            never_expires=expiry is None,
            expires_at=expiry.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if expiry else "",
            groups=f.rbac_group_names,
            target_id=indicator.id,
        )

    def checked(self) -> Checked:
        return check_value(self.indicator_type, self.value) if self.value else Checked()

    def expiry(self) -> datetime | None:
        if self.never_expires:
            return None
        if not self.expires_at:
            raise InvalidInput("expirationTime", "choose a date and time, or Never")
        try:
            return datetime.fromisoformat(self.expires_at).replace(tzinfo=UTC)
        except ValueError:
            reason = f"{self.expires_at!r} is not a date and time"
            raise InvalidInput("expirationTime", reason) from None

    def draft(self) -> IndicatorDraft:
        """The submission; InvalidInput for the first bad field."""
        if self.override and not self.justification:
            raise InvalidInput("justification", "an override needs a justification")
        kind = self.indicator_type or self.checked().indicator_type
        fields = build_fields(
            indicator_type=kind or "",
            value=self.value,
            action=self.action,
            title=self.title,
            description=self.description or self.title,
            severity=self.severity,
            generate_alert=self.generate_alert or None,  # Audit always alerts
            expiration_time=self.expiry(),
            recommended_actions=self.recommended_actions,
            category=self.category,
            mitre_techniques=[t for t in self.mitre_techniques.split(",") if t.strip()],
            rbac_group_names=self.groups,
        )
        justification = self.justification if self.override else None
        return IndicatorDraft(fields, self.target_id, justification)


def problem_text(error: InvalidInput) -> str:
    return f"{FIELD_LABELS.get(error.field, error.field)}: {error.reason}"
