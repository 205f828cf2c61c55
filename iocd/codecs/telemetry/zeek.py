"""Zeek logs: conn, dns, http, files and ssl, as TSV (`#fields` header) or JSON.

Both the dotted (`id.orig_h`) and the RockNSM underscore (`id_orig_h`) connection ids are read;
`ts` may be epoch seconds or ISO 8601. The log's kind comes from `_path` / `@stream` (JSON),
`#path` (TSV), the file name (`NASHUA_conn.log`), or finally the record's own fields.

Zeek watches a network, not a device: the device of every event is the originating host
`id.orig_h`, used as both `device_id` and `device_name`; the remote end is the responder
`id.resp_h`. Older files.log rows have no `id.*`: there `is_orig` says whether the originator
sent the file (device = first of `tx_hosts`) or received it (device = first of `rx_hosts`).

- conn: network (remote IP and port);
- dns: dns, `query` as `domain` (an IP-literal query goes to `remote_ip`); answers are not read;
- http: http, `url` built as `http://{host}{uri}` (host falls back to the responder address;
  no url when `uri` is unset), `domain` from `host`;
- files: file, md5/sha1/sha256 and `filename`;
- ssl: tls, `server_name` as `sni` (an IP-literal SNI is dropped: the address is already the
  remote IP); `resp_certificate_sha1` (a common extension, RockNSM) as `signer_thumbprint`.
  `cert_chain_fps` are SHA-256 certificate fingerprints: not read (thumbprints are SHA-1).
Other logs (x509, dce_rpc, weird, ...) are skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from iocd.codecs.telemetry import common
from iocd.codecs.telemetry.common import Skip
from iocd.domain.telemetry import EventKind, TelemetryEvent

LOGS = ("conn", "dns", "http", "files", "ssl")
_NAME = re.compile(r"(?:^|[_./-])(conn|dns|http|files|ssl)(?:[_./-]|$)")


def is_zeek(record: Mapping[str, Any]) -> bool:
    return (
        "_path" in record
        or record.get("@proc") == "zeek"
        or ("ts" in record and ("uid" in record or "fuid" in record))
    )


def log_kind(record: Mapping[str, Any], hint: str) -> str | None:
    """Which Zeek log a record comes from, or None when it cannot be told."""
    for key in ("_path", "@stream"):
        if record.get(key):
            return str(record[key])
    found = _NAME.search(hint.rsplit("/", 1)[-1])
    if found:
        return found.group(1)
    if "query" in record and "qtype" in record:
        return "dns"
    if "server_name" in record or "cipher" in record:
        return "ssl"
    if "uri" in record or "status_code" in record:
        return "http"
    if "fuid" in record and ("mime_type" in record or "seen_bytes" in record):
        return "files"
    if "conn_state" in record or "history" in record:
        return "conn"
    return None


def _get(record: Mapping[str, Any], dotted: str) -> Any:
    value = record.get(dotted)
    return record.get(dotted.replace(".", "_")) if value is None else value


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def event_from_record(record: Mapping[str, Any], hint: str = "") -> TelemetryEvent:
    """The event of one Zeek log record; raises Skip for logs not read."""
    log = log_kind(record, hint)
    if log not in LOGS:
        raise Skip(f"Zeek log {log or 'of unknown kind'} not read")
    origin = common.ip_text(_get(record, "id.orig_h"))
    remote = common.ip_text(_get(record, "id.resp_h"))
    remote_port = common.port(_get(record, "id.resp_p"))
    fields: dict[str, Any] = {}
    if log == "conn":
        kind = EventKind.NETWORK
    elif log == "dns":
        kind = EventKind.DNS
        query = record.get("query")
        fields["domain"] = common.domain(query)
        if common.ip_text(query):
            remote, remote_port = common.ip_text(query), None
    elif log == "http":
        kind = EventKind.HTTP
        host = common.text(record.get("host"))
        uri = common.text(record.get("uri"))
        fields["domain"] = common.domain(host)
        authority = host or _authority(remote, remote_port)
        if uri is not None and authority:
            fields["url"] = common.url(f"http://{authority}{uri if uri.startswith('/') else ''}")
    elif log == "files":
        kind = EventKind.FILE
        # Older files.log has no id.*: the originator sent the file when `is_orig` is true.
        sent = common.flag(record.get("is_orig")) is True
        mine, theirs = ("tx_hosts", "rx_hosts") if sent else ("rx_hosts", "tx_hosts")
        origin = origin or common.ip_text(_first(record.get(mine)))
        remote = remote or common.ip_text(_first(record.get(theirs)))
        name = common.text(record.get("filename"))
        fields.update(
            md5=common.hex_digest(record.get("md5"), 32),
            sha1=common.hex_digest(record.get("sha1"), 40),
            sha256=common.hex_digest(record.get("sha256"), 64),
            file_name=common.file_name_of(name),
            file_path=name,
        )
    else:
        kind = EventKind.TLS
        fields["sni"] = common.domain(record.get("server_name"))
        fields["signer_thumbprint"] = common.hex_digest(record.get("resp_certificate_sha1"), 40)
    if origin is None:
        raise Skip("no originating host (id.orig_h)")
    return TelemetryEvent(
        time=common.timestamp(record.get("ts")),
        kind=kind,
        device_id=origin,
        device_name=origin,
        remote_ip=remote,
        remote_port=remote_port,
        source="zeek",
        **fields,
    )


def _authority(address: str | None, port: int | None) -> str | None:
    if address is None:
        return None
    host = f"[{address}]" if ":" in address else address
    return host if port in (None, 80) else f"{host}:{port}"
