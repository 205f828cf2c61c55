"""Telemetry: one normalised event shape for everything collected from devices (issue 4).

Readers (codecs/telemetry) turn Sysmon, Zeek, ECS and Defender records into this shape; the
columnar form of the same fields is `matching.columns.EVENT_SCHEMA`. Values are canonical where
the list matches them: hashes and thumbprints lower-case hex, `remote_ip` in the shortest
standard text form, `domain` lower-case IDNA without a trailing dot, `url` as
`domain.values.normalise_url` gives it. A value a reader cannot read is left out (None), never
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    FILE = "file"
    PROCESS = "process"
    IMAGE_LOAD = "image_load"
    NETWORK = "network"
    DNS = "dns"
    HTTP = "http"
    TLS = "tls"


@dataclass(frozen=True, slots=True)
class TelemetryEvent:
    """One thing that happened on one device.

    `signature_valid` and `signer_trusted` are None when the source does not say; `sni` is the
    TLS server name, matched like a domain. `source` names the reader (`sysmon`, `zeek`, `ecs`,
    `defender`, `native`). `device_group` is filled by the server (from the device's facts and
    the group rules), never by a reader.
    """

    time: datetime
    kind: EventKind
    device_id: str
    device_name: str = ""
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    signer_thumbprint: str | None = None
    signature_valid: bool | None = None
    signer_trusted: bool | None = None
    file_name: str | None = None
    file_path: str | None = None
    remote_ip: str | None = None
    remote_port: int | None = None
    domain: str | None = None
    url: str | None = None
    sni: str | None = None
    source: str = "native"
    device_group: str | None = None

    @property
    def is_file(self) -> bool:
        return self.kind in (EventKind.FILE, EventKind.PROCESS, EventKind.IMAGE_LOAD)
