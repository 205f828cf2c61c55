"""Elastic Common Schema documents (Beats, Elastic Agent), nested or with dotted keys.

Nested objects are flattened to dotted keys first, so `{"url": {"full": ...}}` and
`{"url.full": ...}` read alike. The kind is chosen from what the document holds, in order:
DNS question -> dns; TLS server name or hash -> tls; `url.*` or `http.*` -> http;
`dll.*` or category library/driver -> image_load; category process -> process; category file
-> file; network addresses -> network. Anything else is skipped.

Mapped: `@timestamp` (else `event.start`; neither: skipped); device = `host.id` /
`host.name` / `agent.id` / `observer.hostname` (else the source address, as for Zeek; else ""
- a document may carry no host at all, like Santa's); hashes from `dll.hash.*`, `file.hash.*`
or `process.hash.*` (the object the kind is about); `*.code_signature.valid` and `.trusted`;
`destination.ip/port` (`server.*` as fallback); `destination.domain`, `url.domain`,
`dns.question.name`; `url.full` / `url.original` (or built from `url.scheme/domain/path`);
`tls.client.server_name` as `sni`; `tls.server.hash.sha1` (the server certificate) as
`signer_thumbprint`. Not mapped: `related.*` (it mixes certificate and file hashes),
`dns.answers`/`resolved_ip`, certificate SHA-256 fingerprints, user and process trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iocd.codecs.telemetry import common
from iocd.codecs.telemetry.common import Skip
from iocd.domain.telemetry import EventKind, TelemetryEvent


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys for nested objects; lists are kept as they are."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def is_ecs(record: Mapping[str, Any]) -> bool:
    """ECS-looking: `@timestamp` or an `event`/`ecs` field set, dotted or nested."""
    return "@timestamp" in record or any(key.split(".", 1)[0] in ("event", "ecs") for key in record)


def _categories(doc: Mapping[str, Any]) -> set[str]:
    value = doc.get("event.category") or []
    return {str(v) for v in (value if isinstance(value, list) else [value])}


def _kind(doc: Mapping[str, Any]) -> tuple[EventKind, str]:
    """(kind, the field prefix whose hashes and signature describe the event)."""
    categories = _categories(doc)
    if doc.get("dns.question.name"):
        return EventKind.DNS, "process"
    if doc.get("tls.client.server_name") or doc.get("tls.server.hash.sha1"):
        return EventKind.TLS, "process"
    if any(key.startswith(("url.", "http.")) for key in doc):
        return EventKind.HTTP, "process"
    if any(key.startswith("dll.") for key in doc) or categories & {"library", "driver"}:
        return EventKind.IMAGE_LOAD, "dll" if any(k.startswith("dll.") for k in doc) else "file"
    if "process" in categories:
        return EventKind.PROCESS, "process"
    if "file" in categories or any(key.startswith("file.hash.") for key in doc):
        return EventKind.FILE, "file"
    if doc.get("destination.ip") or doc.get("server.ip") or "network" in categories:
        return EventKind.NETWORK, "process"
    raise Skip(f"ECS event of category {sorted(categories) or 'none'} not read")


def _url(doc: Mapping[str, Any]) -> str | None:
    for key in ("url.full", "url.original"):
        if found := common.url(doc.get(key)):
            return found
    host = common.text(doc.get("url.domain"))
    if host is None:
        return None
    scheme = common.text(doc.get("url.scheme")) or "http"
    port = doc.get("url.port")
    path = common.text(doc.get("url.path")) or "/"
    query = common.text(doc.get("url.query"))
    authority = f"{host}:{port}" if port else host
    return common.url(f"{scheme}://{authority}{path}{'?' + query if query else ''}")


def event_from_record(record: Mapping[str, Any], hint: str = "") -> TelemetryEvent:
    """The event of one ECS document; raises Skip when it is none of the kinds read."""
    doc = flatten(record)
    kind, subject = _kind(doc)
    device_id = next(
        (
            found
            for key in ("host.id", "host.name", "agent.id", "observer.hostname", "source.ip")
            if (found := common.text(doc.get(key)))
        ),
        None,
    )
    path = common.text(doc.get(f"{subject}.path") or doc.get(f"{subject}.executable"))
    remote = doc.get("destination.ip") or doc.get("server.ip")
    remote_port = doc.get("destination.port") or doc.get("server.port")
    domain_text = doc.get("dns.question.name") or doc.get("destination.domain")
    domain_text = domain_text or doc.get("url.domain") or doc.get("server.domain")
    return TelemetryEvent(
        time=common.timestamp(doc.get("@timestamp") or doc.get("event.start")),
        kind=kind,
        device_id=device_id or "",
        device_name=common.text(doc.get("host.name")) or device_id or "",
        sha256=common.hex_digest(doc.get(f"{subject}.hash.sha256"), 64),
        sha1=common.hex_digest(doc.get(f"{subject}.hash.sha1"), 40),
        md5=common.hex_digest(doc.get(f"{subject}.hash.md5"), 32),
        signer_thumbprint=common.hex_digest(doc.get("tls.server.hash.sha1"), 40),
        signature_valid=common.flag(doc.get(f"{subject}.code_signature.valid")),
        signer_trusted=common.flag(doc.get(f"{subject}.code_signature.trusted")),
        file_name=common.text(doc.get(f"{subject}.name")) or common.file_name_of(path),
        file_path=path,
        remote_ip=common.ip_text(remote),
        remote_port=common.port(remote_port),
        domain=common.domain(domain_text),
        url=_url(doc) if kind is EventKind.HTTP else None,
        sni=common.domain(doc.get("tls.client.server_name")),
        source="ecs",
    )
