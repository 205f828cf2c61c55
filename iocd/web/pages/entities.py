"""Entity pages: a file, certificate, IP address (or CIDR block), domain, URL or device, as
stored telemetry, the list and the alerts show it (services.entities does the work).

- `/files/{hash}` (SHA-256, SHA-1 or MD5), `/certificates/{thumbprint}`, `/ips/{ip:path}` (a
  CIDR block too), `/domains/{domain}`, `/urls?u=...`: telemetry of the look-back window
  (prevalence, devices, facets such as names and paths), the decision now with its trace and
  the device groups deciding otherwise, related indicators and alerts, and contextual actions:
  links to the add pane pre-filled (`/indicators/new?type=&value=&action=&title=`).
- `/devices/{device_id}`: name, group, first and last seen, recent events and alerts.

The search box (pages/search.py) leads here. Values are put in canonical form first; a value
that is not one of the page's type answers 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.principal import Principal, Role
from iocd.domain.types import ALLOWED_ACTIONS, Action, IndicatorType
from iocd.domain.values import normalise
from iocd.errors import InvalidInput
from iocd.services.entities import EntityReport
from iocd.services.entity_decisions import may_read
from iocd.services.entity_summary import FacetRow
from iocd.web.deps import CurrentUser, instance, render
from iocd.web.pages.search import entity_url

router = APIRouter()

HASHES = {
    64: IndicatorType.FILE_SHA256,
    40: IndicatorType.FILE_SHA1,
    32: IndicatorType.FILE_MD5,
}
NOUNS = {
    IndicatorType.FILE_SHA256: "File",
    IndicatorType.FILE_SHA1: "File",
    IndicatorType.FILE_MD5: "File",
    IndicatorType.CERTIFICATE_THUMBPRINT: "Certificate",
    IndicatorType.IP_ADDRESS: "IP address",
    IndicatorType.DOMAIN_NAME: "Domain",
    IndicatorType.URL: "URL",
}
ACTION_ORDER = (
    Action.ALLOWED,
    Action.AUDIT,
    Action.WARN,
    Action.BLOCK,
    Action.BLOCK_AND_REMEDIATE,
)
ACTION_LABELS = {
    Action.ALLOWED: "Allow",
    Action.AUDIT: "Audit",
    Action.WARN: "Warn",
    Action.BLOCK: "Block",
    Action.BLOCK_AND_REMEDIATE: "Block and remediate",
}
FACET_TITLES = {
    "hashes": ("Hashes known together", ("SHA-256", "SHA-1", "MD5")),
    "names": ("Names and paths seen", ("Name", "Path")),
    "signers": ("Signer", ("Thumbprint", "Signature valid", "Trusted publisher")),
    "files": ("Files signed", ("SHA-256", "Name")),
    "addresses": ("Addresses", ("Address",)),
    "ports": ("Remote ports", ("Port",)),
    "tls": ("TLS server names", ("Server name",)),
    "urls": ("URLs", ("URL",)),
    "kinds": ("Event kinds (recent events)", ("Kind",)),
}
LINKED_COLUMNS = {
    "SHA-256": IndicatorType.FILE_SHA256,
    "SHA-1": IndicatorType.FILE_SHA1,
    "MD5": IndicatorType.FILE_MD5,
    "Thumbprint": IndicatorType.CERTIFICATE_THUMBPRINT,
    "Address": IndicatorType.IP_ADDRESS,
    "Server name": IndicatorType.DOMAIN_NAME,
    "URL": IndicatorType.URL,
}


@router.get("/files/{value}")
def file_page(request: Request, user: CurrentUser, value: str) -> Response:
    kind = HASHES.get(len(value.strip()))
    if kind is None:
        raise InvalidInput("hash", "must be a SHA-256, SHA-1 or MD5 in hex")
    return _entity(request, user, kind, value)


@router.get("/certificates/{thumbprint}")
def certificate_page(request: Request, user: CurrentUser, thumbprint: str) -> Response:
    return _entity(request, user, IndicatorType.CERTIFICATE_THUMBPRINT, thumbprint)


@router.get("/ips/{ip:path}")
def ip_page(request: Request, user: CurrentUser, ip: str) -> Response:
    return _entity(request, user, IndicatorType.IP_ADDRESS, ip)


@router.get("/domains/{domain}")
def domain_page(request: Request, user: CurrentUser, domain: str) -> Response:
    return _entity(request, user, IndicatorType.DOMAIN_NAME, domain)


@router.get("/urls")
def url_page(request: Request, user: CurrentUser, u: str = "") -> Response:
    return _entity(request, user, IndicatorType.URL, u)


@router.get("/devices/{device_id}")
def device_page(request: Request, user: CurrentUser, device_id: str) -> Response:
    report = instance(request).entities.device(device_id, user)
    return render(
        request,
        "entities/device.html",
        nav="search",
        title=f"Device {report.device.name or device_id}",
        r=report,
        t=report.telemetry,
        facets=_facets(report.telemetry.facets, None),
        entity_url=entity_url,
    )


def _entity(request: Request, user: Principal, kind: IndicatorType, raw: str) -> Response:
    value = normalise(kind, raw)
    report = instance(request).entities.entity(kind, value, user)
    noun = NOUNS[kind]
    return render(
        request,
        "entities/entity.html",
        nav="search",
        title=f"{noun} {value}",
        noun=noun,
        r=report,
        t=report.telemetry,
        v=report.verdict,
        facets=_facets(report.telemetry.facets, kind),
        actions=_actions(report, user),
        related=[
            (i, may_read(user, i) and "indicators" in request.app.state.areas)
            for i in report.verdict.related
        ],
        existing=report.verdict.existing,
        entity_url=entity_url,
        window_days=instance(request).entities.window.days,
    )


def _actions(report: EntityReport, user: Principal) -> list[tuple[str, str]]:
    """(label, add-pane link) for each action the type allows; none for read-only users."""
    if user.role is Role.READ_ONLY:
        return []
    allowed = ALLOWED_ACTIONS[report.indicator_type]
    noun = NOUNS[report.indicator_type].lower()
    out = []
    for action in ACTION_ORDER:
        if action not in allowed:
            continue
        label = ACTION_LABELS[action]
        title = f"{label} {noun} {report.value}"[:200]
        query = urlencode(
            {
                "type": report.indicator_type.value,
                "value": report.value,
                "action": action.value,
                "title": title,
            }
        )
        out.append((label, f"/indicators/new?{query}"))
    return out


@dataclass(frozen=True, slots=True)
class FacetView:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: list[FacetRow]
    links: tuple[IndicatorType | None, ...]
    """The entity type each column's values link to (None: plain text)."""


def _facets(facets: dict[str, list[FacetRow]], kind: IndicatorType | None) -> list[FacetView]:
    out = []
    for key, rows in facets.items():
        title, headers = FACET_TITLES[key]
        if key == "names" and kind is not None and not kind.is_file_hash:
            title, headers = "Names seen", ("Server name",)
            if kind is IndicatorType.DOMAIN_NAME:
                title = "Names seen (the domain and its subdomains)"
        links = tuple(LINKED_COLUMNS.get(h) for h in headers)
        out.append(FacetView(key, title, headers, rows, links))
    return out
