"""Request bodies of the Indicators API, as MDE defines them. Used for shape checks and OpenAPI;
domain validation happens once, in domain.drafts. Unknown fields are ignored; names are
case-sensitive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class IndicatorIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    indicatorValue: str = Field(max_length=4096)
    indicatorType: str = Field(max_length=64)
    action: str = Field(max_length=64)
    title: str | None = Field(default=None, max_length=4096)
    description: str | None = Field(default=None, max_length=16384)
    severity: str | None = Field(default=None, max_length=64)
    generateAlert: bool | None = None
    expirationTime: str | None = Field(default=None, max_length=64)
    recommendedActions: str | None = Field(default=None, max_length=4096)
    application: str | None = Field(default=None, max_length=4096)
    educateUrl: str | None = Field(default=None, max_length=4096)
    externalId: str | None = Field(default=None, max_length=4096)
    category: str | None = Field(default=None, max_length=256)
    mitreTechniques: list[str] | None = Field(default=None, max_length=100)
    rbacGroupNames: list[str] | None = Field(default=None, max_length=500)
    # Strict: a JSON true or 1.0 is not an id (lax mode would read true as indicator 1).
    id: StrictStr | StrictInt | None = Field(
        default=None,
        description="Update this indicator (MDE clients send updates as a submit carrying the id).",
    )
    overrideJustification: str | None = Field(
        default=None,
        max_length=4096,
        description="iocd extension: store despite a guardrail refusal, recording why.",
    )


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # list[Any], not list[dict]: an item that is not an object is a bad item that fails alone.
    Indicators: list[Any] = Field(
        description="Indicators as in POST /api/indicators; each is validated on its own.",
        json_schema_extra={"items": {"type": "object"}},
    )


class BatchDeleteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    IndicatorIds: list[StrictStr | StrictInt]  # strict: [true] must not mean indicator 1


class AlertPatchIn(BaseModel):
    """PATCH /api/alerts/{id}: every field optional; null clears classification, determination
    and assignedTo. Validated once, in domain.alerts.parse_alert_patch."""

    model_config = ConfigDict(extra="ignore")

    status: str | None = Field(default=None, description="New, InProgress or Resolved.")
    classification: str | None = Field(
        default=None,
        description="TruePositive, InformationalExpectedActivity, FalsePositive or Unknown.",
    )
    determination: str | None = Field(
        default=None, description="Malware, SecurityTesting, UnwantedSoftware, Other, ..."
    )
    assignedTo: str | None = Field(default=None, max_length=2048)
    comment: str | None = Field(default=None, description="Added to the alert's comments.")
