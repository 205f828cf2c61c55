"""The demo's day of telemetry: a fleet of devices running ordinary software and visiting
ordinary sites, with a few of them touching what the demo's indicators describe. Pure: one
seeded random.Random, times over the 24 hours before `now`, values already canonical."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.services.demo.catalog import ADDRESSES, FLEET, SITES, SOFTWARE
from iocd.services.demo.intel import Intel, made_up_value

T = IndicatorType
DAY = timedelta(hours=24)
BACKGROUND_KINDS = (
    (EventKind.PROCESS, 25),
    (EventKind.IMAGE_LOAD, 10),
    (EventKind.FILE, 15),
    (EventKind.NETWORK, 20),
    (EventKind.DNS, 15),
    (EventKind.HTTP, 8),
    (EventKind.TLS, 7),
)
BENIGN_PATHS = ("/", "/favicon.ico", "/api/v1/status", "/static/app.js", "/signin")


@dataclass(frozen=True, slots=True)
class DemoDevice:
    device_id: str
    name: str


@dataclass(frozen=True, slots=True)
class _File:
    name: str
    path: str
    sha256: str
    sha1: str
    md5: str
    signer: str | None


def fleet(count: int, rng: random.Random) -> list[DemoDevice]:
    """`count` devices named as in the catalog's fleet (scaled; laptops make up the rest)."""
    total = sum(n for _pattern, n in FLEET)
    names: list[str] = []
    for pattern, n in FLEET:
        names += [pattern.format(i) for i in range(1, max(1, round(n * count / total)) + 1)]
    names = names[:count]
    names += [f"lt-{i:03d}" for i in range(900, 900 + count - len(names))]
    return [DemoDevice(f"{rng.getrandbits(160):040x}", name) for name in names]


def _file(name: str, folder: str, signer: str | None, rng: random.Random) -> _File:
    return _File(
        name,
        f"{folder}\\{name}",
        made_up_value(T.FILE_SHA256, rng),
        made_up_value(T.FILE_SHA1, rng),
        made_up_value(T.FILE_MD5, rng),
        signer,
    )


class _Day:
    """Builds the events of one day; `at()` draws a time within it."""

    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.now = now.replace(microsecond=0)
        self.rng = rng
        self.software = [_file(n, f, s, rng) for n, f, s in SOFTWARE]
        signers = sorted({s for _n, _f, s in SOFTWARE if s})
        self.thumbprints = {s: made_up_value(T.CERTIFICATE_THUMBPRINT, rng) for s in signers}

    def at(self) -> datetime:
        return self.now - timedelta(seconds=self.rng.randrange(1, int(DAY.total_seconds())))

    def file_event(
        self, device: DemoDevice, kind: EventKind, f: _File, **extra: object
    ) -> TelemetryEvent:
        signer = self.thumbprints.get(f.signer) if f.signer else None
        values: dict[str, object] = {
            "sha256": f.sha256,
            "sha1": f.sha1,
            "md5": f.md5,
            "file_name": f.name,
            "file_path": f.path,
            "signer_thumbprint": signer,
            "signature_valid": True if signer else None,
            "signer_trusted": True if signer else None,
        }
        values.update(extra)
        return TelemetryEvent(self.at(), kind, device.device_id, device.name, **values)  # type: ignore[arg-type]

    def background(self, device: DemoDevice) -> TelemetryEvent:
        rng = self.rng
        kinds, weights = zip(*BACKGROUND_KINDS, strict=True)
        kind = rng.choices(kinds, weights)[0]
        if kind in (EventKind.PROCESS, EventKind.IMAGE_LOAD, EventKind.FILE):
            return self.file_event(device, kind, rng.choice(self.software))
        site, address = rng.choice(SITES), rng.choice(ADDRESSES)
        base = TelemetryEvent(self.at(), kind, device.device_id, device.name)
        if kind is EventKind.DNS:
            return _with(base, domain=site)
        if kind is EventKind.TLS:
            return _with(base, sni=site, remote_ip=address, remote_port=443)
        if kind is EventKind.HTTP:
            url = f"https://{site}{rng.choice(BENIGN_PATHS)}"
            return _with(base, url=url, domain=site, remote_ip=address, remote_port=443)
        return _with(base, remote_ip=address, remote_port=rng.choice((443, 443, 80, 53, 123)))

    def sighting(self, device: DemoDevice, intel: Intel) -> TelemetryEvent:
        """An event on `device` that the indicator matches."""
        rng = self.rng
        f = intel.draft.fields
        kind, value = f.indicator_type, f.value
        base = TelemetryEvent(self.at(), EventKind.NETWORK, device.device_id, device.name)
        if kind.is_file_hash or kind is T.CERTIFICATE_THUMBPRINT:
            names = intel.campaign.file_names or ("update.exe", "invoice.pdf.exe")
            sample = _file(rng.choice(names), r"C:\Users\Public\Downloads", None, rng)
            hashes = {
                T.FILE_SHA256: "sha256",
                T.FILE_SHA1: "sha1",
                T.FILE_MD5: "md5",
                T.CERTIFICATE_THUMBPRINT: "signer_thumbprint",
            }
            extra: dict[str, object] = {hashes[kind]: value}
            if kind is T.CERTIFICATE_THUMBPRINT:
                extra |= {"signature_valid": True, "signer_trusted": False}
            return self.file_event(device, EventKind.PROCESS, sample, **extra)
        if kind is T.IP_ADDRESS:
            return _with(base, remote_ip=value, remote_port=rng.choice((443, 8080, 4444, 22)))
        if kind is T.DOMAIN_NAME:
            name = value if rng.random() < 0.6 else f"www.{value}"
            return _with(base, kind=EventKind.DNS, domain=name)
        host = urlsplit(value).hostname or ""
        return _with(
            base,
            kind=EventKind.HTTP,
            url=value,
            domain=host,
            remote_ip=made_up_value(T.IP_ADDRESS, rng),
            remote_port=443,
        )


def _with(event: TelemetryEvent, **values: object) -> TelemetryEvent:
    return replace(event, **values)  # type: ignore[arg-type]


def generate_day(
    devices: Sequence[DemoDevice],
    intel: Sequence[Intel],
    events: int,
    now: datetime,
    rng: random.Random,
) -> list[TelemetryEvent]:
    """About `events` events over the day before `now`, oldest first: the allowed in-house
    agent on every device, sightings of some indicators on a few devices, and the rest
    ordinary activity."""
    day = _Day(now, rng)
    out: list[TelemetryEvent] = []
    allowed = [i for i in intel if i.draft.fields.action is Action.ALLOWED]
    for device in devices:
        for candidate in allowed:
            out.append(day.sighting(device, candidate))
    eligible = [
        i
        for i in intel
        if i.draft.fields.action is not Action.ALLOWED and not i.draft.fields.rbac_group_names
    ]
    wanted = max(len(T), min(60, events // 500))
    seen: list[Intel] = []
    for kind in T:  # one of each type first, then any
        seen += [i for i in eligible if i.draft.fields.indicator_type is kind][:1]
    rest = [i for i in eligible if i not in seen]
    seen += rng.sample(rest, min(len(rest), max(wanted - len(seen), 0)))
    for candidate in seen:
        for device in rng.sample(list(devices), min(len(devices), rng.choice((1, 1, 2, 3)))):
            out += [day.sighting(device, candidate) for _ in range(rng.randrange(1, 4))]
    while len(out) < events:
        out.append(day.background(rng.choice(devices)))
    out.sort(key=lambda e: e.time)
    return out
