"""The columnar form of telemetry (Arrow): the shape every reader produces and every matcher reads.

Hashes and thumbprints are fixed-size binary (the digest bytes, not hex), so a matcher can view
them as integers without copying; `remote_ip` is 16 bytes (IPv4 as an IPv4-mapped IPv6 address,
`::ffff:a.b.c.d`). Strings are canonical as in `domain.telemetry`.
"""

from __future__ import annotations

import pyarrow as pa

EVENT_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("device_name", pa.string()),
        pa.field("sha256", pa.binary(32)),
        pa.field("sha1", pa.binary(20)),
        pa.field("md5", pa.binary(16)),
        pa.field("signer_thumbprint", pa.binary(20)),
        pa.field("signature_valid", pa.bool_()),
        pa.field("signer_trusted", pa.bool_()),
        pa.field("file_name", pa.string()),
        pa.field("file_path", pa.string()),
        pa.field("remote_ip", pa.binary(16)),
        pa.field("remote_port", pa.int32()),
        pa.field("domain", pa.string()),
        pa.field("url", pa.string()),
        pa.field("sni", pa.string()),
        pa.field("source", pa.string()),
        pa.field("device_group", pa.string()),
    ]
)
"""One row per event; field names equal `domain.telemetry.TelemetryEvent` attributes."""

HASH_COLUMNS = {"sha256": 32, "sha1": 20, "md5": 16, "signer_thumbprint": 20}
