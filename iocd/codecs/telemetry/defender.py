"""Microsoft Defender advanced-hunting rows (DeviceFileEvents, DeviceProcessEvents,
DeviceImageLoadEvents, DeviceNetworkEvents, DeviceEvents, UrlClickEvents), one row per event,
from the portal's CSV export or JSON (Log Analytics exports suffix some columns: `_string`).

The kind comes from `ActionType`: ProcessCreated -> process; File* -> file; ImageLoaded ->
image_load; Dns* -> dns (the name is in AdditionalFields: `DnsQueryString` or `query`);
Http*Inspected and the click/URL actions -> http; Ssl*Inspected -> tls (`server_name`);
Connection*, InboundConnectionAccepted, Firewall*Connection* and other *Inspected -> network;
antivirus and ASR actions -> file when the row names a file. Others (registry, logon, WMI,
PowerShell, LDAP ...) are skipped and counted.

For file, process and image rows the hashes, `FileName` and `FolderPath` are the target file's.
For network-like rows they are the initiating process's (`InitiatingProcessSHA256` ...), with
`InitiatingProcessSignatureStatus` giving `signature_valid`. `RemoteIP` (IPv4-mapped addresses
read as IPv4) and `RemotePort` are the remote end; `RemoteUrl` (or `Url`) gives `url` when it
is an http(s) URL and `domain` from its host. Defender gives no signer thumbprint in these
tables (it is in DeviceFileCertificateInfo, not read). Rows without `DeviceId` (click events)
have device_id "".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from iocd.codecs.telemetry import common
from iocd.codecs.telemetry.common import Skip
from iocd.domain.telemetry import EventKind, TelemetryEvent

_EXACT = {
    "ProcessCreated": EventKind.PROCESS,
    "ImageLoaded": EventKind.IMAGE_LOAD,
    "DnsQueryResponse": EventKind.DNS,
    "DnsConnectionInspected": EventKind.DNS,
    "HttpConnectionInspected": EventKind.HTTP,
    "SslConnectionInspected": EventKind.TLS,
    "ClickAllowed": EventKind.HTTP,
    "ClickBlocked": EventKind.HTTP,
    "UrlErrorPage": EventKind.HTTP,
    "SmartScreenUrlWarning": EventKind.HTTP,
    "BrowserLaunchedToOpenUrl": EventKind.HTTP,
    "InboundConnectionAccepted": EventKind.NETWORK,
    "ListeningConnectionCreated": EventKind.NETWORK,
}
_FILE_LIKE = (EventKind.FILE, EventKind.PROCESS, EventKind.IMAGE_LOAD)


def is_defender(record: Mapping[str, Any]) -> bool:
    return "ActionType" in record and ("Timestamp" in record or "DeviceId" in record)


def kind_of(action: str, record: Mapping[str, Any]) -> EventKind:
    """The event kind of an ActionType; raises Skip for actions not read."""
    if action in _EXACT:
        return _EXACT[action]
    if action.startswith("File") and not action.startswith("Firewall"):
        return EventKind.FILE
    if action.startswith(("Connection", "Firewall")) and "Connection" in action:
        return EventKind.NETWORK
    if action.endswith("Inspected") and common.text(record.get("RemoteIP")):
        return EventKind.NETWORK
    if action.startswith(("Antivirus", "Asr")) and common.text(record.get("FileName")):
        return EventKind.FILE
    raise Skip(f"Defender action {action or 'none'} not read")


def _extra(record: Mapping[str, Any]) -> dict[str, Any]:
    raw = record.get("AdditionalFields")
    raw = raw if raw is not None else record.get("AdditionalFields_string")
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw.startswith("{") else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def event_from_record(record: Mapping[str, Any], hint: str = "") -> TelemetryEvent:
    """The event of one advanced-hunting row; raises Skip for actions not read."""
    action = common.text(record.get("ActionType")) or ""
    kind = kind_of(action, record)
    extra = _extra(record)
    prefix = "" if kind in _FILE_LIKE else "InitiatingProcess"
    path = common.text(record.get(f"{prefix}FolderPath"))
    name = common.text(record.get(f"{prefix}FileName"))
    if path and name and not path.lower().endswith(name.lower()):
        path = f"{path.rstrip(chr(92))}\\{name}"
    status = common.text(record.get(f"{prefix}SignatureStatus"))
    remote_url = common.text(record.get("RemoteUrl") or record.get("Url"))
    url = common.url(remote_url) if remote_url and "://" in remote_url else None
    host = urlsplit(url).hostname if url else remote_url
    if kind is EventKind.DNS:
        host = extra.get("DnsQueryString") or extra.get("query")
    elif kind is EventKind.HTTP and extra.get("host"):
        host = str(extra["host"])
        url = url or common.url(f"http://{host}{extra.get('uri') or '/'}")
    device = common.text(record.get("DeviceId")) or ""
    return TelemetryEvent(
        time=common.timestamp(record.get("Timestamp") or record.get("TimeGenerated")),
        kind=kind,
        device_id=device,
        device_name=common.text(record.get("DeviceName")) or device,
        sha256=common.hex_digest(record.get(f"{prefix}SHA256"), 64),
        sha1=common.hex_digest(record.get(f"{prefix}SHA1"), 40),
        md5=common.hex_digest(record.get(f"{prefix}MD5"), 32),
        signature_valid=None if status is None else status.lower() == "valid",
        file_name=name,
        file_path=path,
        remote_ip=common.ip_text(record.get("RemoteIP")),
        remote_port=common.port(record.get("RemotePort")),
        domain=common.domain(host),
        url=url,
        sni=common.domain(extra.get("server_name")) if kind is EventKind.TLS else None,
        source="defender",
    )
