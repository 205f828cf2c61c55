"""Sysmon events as JSON, in the three shapes found in real exports.

- flat (Mordor / Winlogbeat-less exports): Windows event fields at the top level, `EventID`,
  `Channel` `Microsoft-Windows-Sysmon/Operational`, `Hostname`, Sysmon fields beside them;
- Sentinel `WindowsEvent` rows: `Provider`, `Computer`, and the Sysmon fields in `EventData`
  (an object, or JSON text that is decoded a second time);
- Sentinel `Syslog` rows from Sysmon for Linux: `SyslogMessage` holds the event as XML
  (`<EventID>`, `<Data Name="...">`), read with a small pattern, never an XML parser;
- also `{"Event": {"System": {...}, "EventData": {...}}}` (evtx dump style).

Event ids read: 1 process create, 3 network connect, 6 driver load, 7 image load, 11 file
create, 15 file stream hash, 22 DNS query, 23/26 file delete, 29 executable detected. Others
(and other channels) are skipped and counted.

Mapping notes: the time is `UtcTime` (the exporter's `@timestamp` can be hours off); the device
is the host name (Sysmon has no device id). `signature_valid` is `SignatureStatus == "Valid"`;
`signer_trusted` is `Signed` and valid, since Sysmon keeps no trust list of its own. Sysmon
gives no signer thumbprint. For an inbound connection (`Initiated` false) the remote end is
the source. A file stream's `Contents` (Zone.Identifier) gives `HostUrl` as `url`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from iocd.codecs.telemetry import common
from iocd.codecs.telemetry.common import Skip
from iocd.domain.telemetry import EventKind, TelemetryEvent

KINDS = {
    1: EventKind.PROCESS,
    3: EventKind.NETWORK,
    6: EventKind.IMAGE_LOAD,
    7: EventKind.IMAGE_LOAD,
    11: EventKind.FILE,
    15: EventKind.FILE,
    22: EventKind.DNS,
    23: EventKind.FILE,
    26: EventKind.FILE,
    29: EventKind.FILE,
}
_PATH_FIELD = {1: "Image", 3: "Image", 6: "ImageLoaded", 7: "ImageLoaded", 22: "Image"}
_XML_DATA = re.compile(r'<Data Name="([^"]+)">([^<]*)</Data>')
_XML_TAG = re.compile(r"<(EventID|Computer)>([^<]*)</\1>")
_HOST_URL = re.compile(r"HostUrl=(\S+)")


def is_sysmon(record: Mapping[str, Any]) -> bool:
    """Whether `record` looks like a Windows/Sysmon event in one of the shapes read here."""
    if "SyslogMessage" in record:
        return "Sysmon" in str(record.get("SyslogMessage"))[:300]
    if isinstance(record.get("Event"), dict):
        return True
    return "EventID" in record and any(
        key in record for key in ("Channel", "Hostname", "Computer", "SourceName")
    )


def _unwrap(record: Mapping[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """(event id, channel or provider, fields) of one record in any supported shape."""
    if "SyslogMessage" in record:
        message = str(record["SyslogMessage"])
        tags = dict(_XML_TAG.findall(message))
        fields: dict[str, Any] = {k: html.unescape(v) for k, v in _XML_DATA.findall(message)}
        fields.setdefault("Computer", tags.get("Computer") or record.get("Computer"))
        provider = "Linux-Sysmon" if "Sysmon" in message[:300] else "syslog"
        return _event_id(tags.get("EventID")), provider, fields
    if isinstance(record.get("Event"), dict):
        system = record["Event"].get("System") or {}
        data = record["Event"].get("EventData") or {}
        fields = dict(data) if isinstance(data, dict) else {}
        fields.setdefault("Computer", system.get("Computer"))
        provider = system.get("Channel") or str(system.get("Provider", ""))
        return _event_id(system.get("EventID")), str(provider), fields
    fields = dict(record)
    data = record.get("EventData")
    if isinstance(data, str) and data.startswith("{"):
        try:
            data = json.loads(data)
        except ValueError:
            raise Skip("EventData is not valid JSON") from None
    if isinstance(data, dict):
        fields.update(data)
    channel = record.get("Channel") or record.get("Provider") or record.get("SourceName") or ""
    return _event_id(record.get("EventID")), str(channel), fields


def _event_id(value: Any) -> int:
    if isinstance(value, dict):  # evtx dumps: {"#text": 1, ...}
        value = value.get("#text")
    try:
        return int(str(value))
    except ValueError:
        raise Skip("no EventID") from None


def hashes(value: Any) -> dict[str, str]:
    """`SHA1=..,MD5=..,SHA256=..,IMPHASH=..` as {'sha1': hex, ...}, only valid digests kept."""
    out: dict[str, str] = {}
    for part in str(value or "").split(","):
        name, _, digest = part.partition("=")
        key = name.strip().lower()
        width = {"md5": 32, "sha1": 40, "sha256": 64}.get(key)
        if width and (checked := common.hex_digest(digest, width)):
            out[key] = checked
    return out


def event_from_record(record: Mapping[str, Any], hint: str = "") -> TelemetryEvent:
    """The event of one Sysmon record; raises Skip for other channels and event ids."""
    event_id, channel, fields = _unwrap(record)
    if "sysmon" not in channel.lower():
        raise Skip(f"not a Sysmon event ({channel or 'no channel'} {event_id})")
    kind = KINDS.get(event_id)
    if kind is None:
        raise Skip(f"Sysmon event {event_id} not read")
    host = common.text(fields.get("Hostname") or fields.get("Computer") or fields.get("HostName"))
    when = fields.get("UtcTime") or fields.get("TimeCreated") or fields.get("@timestamp")
    path = common.text(fields.get(_PATH_FIELD.get(event_id, "TargetFilename")))
    digests = hashes(fields.get("Hashes") or fields.get("Hash"))
    status = common.text(fields.get("SignatureStatus"))
    valid = None if status is None else status.lower() == "valid"
    signed = common.flag(fields.get("Signed"))
    trusted = None if valid is None or signed is None else bool(signed and valid)
    remote_ip = remote_port = remote_domain = url = None
    if event_id == 3:
        side = "Source" if common.flag(fields.get("Initiated")) is False else "Destination"
        remote_ip = common.ip_text(fields.get(f"{side}Ip"))
        remote_port = common.port(fields.get(f"{side}Port"))
        remote_domain = common.domain(fields.get(f"{side}Hostname"))
    elif event_id == 22:
        query = fields.get("QueryName")
        remote_ip = common.ip_text(query)
        remote_domain = common.domain(query)
    elif event_id == 15:
        found = _HOST_URL.search(str(fields.get("Contents") or ""))
        url = common.url(found.group(1)) if found else None
    return TelemetryEvent(
        time=common.timestamp(when),
        kind=kind,
        device_id=host or "",
        device_name=host or "",
        sha256=digests.get("sha256"),
        sha1=digests.get("sha1"),
        md5=digests.get("md5"),
        signature_valid=valid,
        signer_trusted=trusted,
        file_name=common.file_name_of(path),
        file_path=path,
        remote_ip=remote_ip,
        remote_port=remote_port,
        domain=remote_domain,
        url=url,
        source="sysmon",
    )
