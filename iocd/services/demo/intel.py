"""The demo's indicators: drafts of every type and action, with text that reads like real
intelligence. Pure: everything comes from the catalog and one seeded random.Random."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.services.demo.catalog import CAMPAIGNS, GROUPS, SYLLABLES, TLDS, URL_PATHS, Campaign

T = IndicatorType
ACTIONS = {
    T.FILE_SHA256: (
        (Action.BLOCK_AND_REMEDIATE, 3),
        (Action.BLOCK, 3),
        (Action.AUDIT, 3),
        (Action.WARN, 1),
    ),
    T.FILE_SHA1: (
        (Action.BLOCK_AND_REMEDIATE, 2),
        (Action.BLOCK, 3),
        (Action.AUDIT, 3),
        (Action.WARN, 1),
    ),
    T.FILE_MD5: ((Action.BLOCK, 3), (Action.AUDIT, 4), (Action.WARN, 1)),
    T.CERTIFICATE_THUMBPRINT: (
        (Action.BLOCK, 2),
        (Action.BLOCK_AND_REMEDIATE, 1),
        (Action.AUDIT, 1),
    ),
    T.IP_ADDRESS: ((Action.BLOCK, 4), (Action.AUDIT, 4), (Action.WARN, 1)),
    T.DOMAIN_NAME: ((Action.BLOCK, 4), (Action.AUDIT, 3), (Action.WARN, 2)),
    T.URL: ((Action.BLOCK, 4), (Action.WARN, 3), (Action.AUDIT, 2)),
}
"""Weighted actions per type (only pairs SPEC section 1 allows); Allowed is added once."""

ROLE = {
    T.FILE_SHA256: "malicious file",
    T.FILE_SHA1: "malicious file",
    T.FILE_MD5: "malicious file",
    T.CERTIFICATE_THUMBPRINT: "signing certificate",
    T.IP_ADDRESS: "C2 or attacking address",
    T.DOMAIN_NAME: "malicious domain",
    T.URL: "malicious URL",
}
SEVERITIES = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)
SCOPES = tuple(name for name, _rules, _ in GROUPS if name in ("Servers", "Finance", "Laptops"))


@dataclass(frozen=True, slots=True)
class Intel:
    """An indicator of the demo, and its campaign (telemetry uses file names from it)."""

    draft: IndicatorDraft
    campaign: Campaign


def made_up_value(kind: IndicatorType, rng: random.Random) -> str:
    """A plausible value of this type (hashes are random; names read like phishing infra)."""
    bits = {T.FILE_SHA256: 256, T.FILE_SHA1: 160, T.FILE_MD5: 128, T.CERTIFICATE_THUMBPRINT: 160}
    if kind in bits:
        return f"{rng.getrandbits(bits[kind]):0{bits[kind] // 4}x}"
    if kind is T.IP_ADDRESS:
        return f"{rng.choice((45, 91, 185, 193, 194))}.{rng.randrange(1, 255)}." + (
            f"{rng.randrange(0, 255)}.{rng.randrange(1, 254)}"
        )
    domain = "".join(rng.choice(SYLLABLES) for _ in range(rng.randrange(2, 4)))
    domain += f"-{rng.choice(('login', 'cdn', 'secure', 'update', 'docs'))}" * rng.randrange(2)
    domain += f".{rng.choice(TLDS)}"
    if kind is T.DOMAIN_NAME:
        return domain
    path = rng.choice(URL_PATHS).format(
        w=rng.choice(SYLLABLES) + rng.choice(SYLLABLES),
        n=rng.randrange(1000, 99999),
        d=rng.randrange(1, 4),
    )
    return f"https://{domain}{path}"


def _candidates(total: int, rng: random.Random) -> list[tuple[Campaign, IndicatorType, str]]:
    """About `total` (campaign, type, value): every real value when there is room, and made-up
    values in the campaigns' proportions; every type at least twice."""
    real = [(c, k, v) for c in CAMPAIGNS for k, values in c.values.items() for v in values]
    shares = [(c, k, n) for c in CAMPAIGNS for k, n in c.made_up.items()]
    room = max(total - len(real), 0)
    per_mille = sum(n for _c, _k, n in shares)
    made = [
        (c, k, made_up_value(k, rng))
        for c, k, n in shares
        for _ in range(max(2, round(room * n / per_mille)))
    ]
    pool = real + made
    rng.shuffle(pool)
    kept: list[tuple[Campaign, IndicatorType, str]] = []
    for kind in T:
        kept += [item for item in pool if item[1] is kind][:2]
    chosen = {id(item) for item in kept}
    kept += [item for item in pool if id(item) not in chosen][: max(total - len(kept), 0)]
    return kept


def _role(campaign: Campaign, kind: IndicatorType, rng: random.Random) -> str:
    if kind.is_file_hash and campaign.file_names:
        return rng.choice(campaign.file_names)
    if kind is T.IP_ADDRESS and campaign.category == "SuspiciousActivity":
        return "scanning and brute-force host"
    return ROLE[kind]


def _weighted(kind: IndicatorType, rng: random.Random) -> Action:
    actions, weights = zip(*ACTIONS[kind], strict=True)
    chosen: Action = rng.choices(actions, weights)[0]
    return chosen


def generate_intel(total: int, now: datetime, rng: random.Random) -> list[Intel]:
    """`total` indicators (at least one per type and one Allowed), unique per value."""
    out: list[Intel] = [_allowed()]
    seen = {out[0].draft.fields.value}
    for n, (campaign, kind, value) in enumerate(_candidates(total - 1, rng)):
        if value.casefold() in seen:
            continue
        seen.add(value.casefold())
        action = _weighted(kind, rng)
        severity = campaign.severity
        if rng.random() < 0.25:
            severity = rng.choice(SEVERITIES)
        roll = rng.random()
        if roll < 0.06:
            expiry: datetime | None = now + timedelta(days=rng.uniform(0.5, 6.5))
        elif roll < 0.3:
            expiry = now + timedelta(days=rng.randrange(30, 181))
        else:
            expiry = None
        scope = (rng.choice(SCOPES),) if rng.random() < 0.08 else ()
        fields = build_fields(
            indicator_type=kind,
            value=value,
            action=action,
            title=f"{campaign.name}: {_role(campaign, kind, rng)}",
            description=f"{campaign.summary} Indicator {n + 1} of the demo data set.",
            severity=severity,
            generate_alert=action is Action.AUDIT or rng.random() < 0.85,
            expiration_time=expiry.replace(microsecond=0) if expiry else None,
            recommended_actions=campaign.recommended,
            category=campaign.category,
            mitre_techniques=campaign.techniques,
            rbac_group_names=scope,
            external_id=f"demo-{n + 1:05d}",
        )
        out.append(Intel(IndicatorDraft(fields), campaign))
    return out


ALLOWED_SHA256 = "3f1c6a7e2d9b4a0c8e5f7d1b2a4c6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a5b7c9d"
ALLOWED = Campaign(
    "IT inventory agent",
    "The organisation's own inventory agent, deployed on every device by IT.",
    "SuspiciousActivity",
    (),
    Severity.INFORMATIONAL,
    "None: approved software.",
    file_names=("InvAgent.exe",),
)


def _allowed() -> Intel:
    """The one Allowed indicator: in-house software other detectors must leave alone."""
    fields = build_fields(
        indicator_type=T.FILE_SHA256,
        value=ALLOWED_SHA256,
        action=Action.ALLOWED,
        title="Approved: IT inventory agent",
        description="Built in-house and unsigned; allowed so that no detector quarantines it.",
        severity=Severity.INFORMATIONAL,
        external_id="demo-allowed",
    )
    return Intel(IndicatorDraft(fields), ALLOWED)
