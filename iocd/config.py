"""Settings: one typed object, built once from IOCD_* environment variables and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

from iocd.errors import InvalidInput


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("iocd", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Every knob of iocd. `database_url` empty means SQLite in `data_dir`."""

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""
    nats_url: str = ""
    """NATS server(s) of the change bus between processes (distributed deployment); empty means
    the in-process bus of a single server."""
    max_active_indicators: int = 10_000_000
    import_batch_size: int = 10_000
    import_chunk_size: int = 5_000
    host: str = "127.0.0.1"
    port: int = 8000
    sqlite_cache_mib: int = 64
    """SQLite page cache per connection. Bulk imports raise it for their own process, so the
    value and identity indexes of a million indicators stay in memory while they grow."""
    sqlite_mmap_mib: int = 1024
    """How much of the SQLite database each connection reads through a memory map instead of
    read calls (0: none). A scan looks up indicators and alerts all over a large file: a page
    read from the map costs about half what a read call does (SQLite caps the size at what it
    was built with, 2 GiB on Debian)."""
    sqlite_bulk: bool = False
    """Bulk loading (`iocd indicators import` sets it for its own process; not read from the
    environment): SQLite syncs the WAL at every commit (synchronous=FULL: a committed chunk
    survives even a power loss) and checkpoints every 256 MiB of WAL instead of every 64 MiB,
    so an index page changed by several chunks is written back to the database once."""
    alert_dedupe_minutes: int = 1440
    """Repeats of one (indicator, device, entity) within this many minutes of an open alert's
    events update that alert instead of raising another."""
    telemetry_retention_days: int = 30
    """Stored telemetry older than this many days is dropped, a whole day at a time."""
    hunt_lookback_days: int = 30
    """How far back a new or changed indicator searches stored telemetry (retro-hunt)."""
    scan_interval_ms: int = 1_000
    """How often the background engine looks for new telemetry and indicator changes; an
    ingest or an indicator change also wakes it at once."""
    ingest_max_backlog: int = 256
    """Telemetry segments stored but not yet scanned past which `POST /api/telemetry` answers
    429 with Retry-After (the events are safe either way; this keeps detection timely)."""

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{self.data_dir / 'iocd.sqlite3'}"

    @property
    def uses_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env` rebuild these settings."""
        env = {
            "IOCD_DATA_DIR": str(self.data_dir),
            "IOCD_MAX_ACTIVE_INDICATORS": str(self.max_active_indicators),
            "IOCD_IMPORT_BATCH_SIZE": str(self.import_batch_size),
            "IOCD_IMPORT_CHUNK_SIZE": str(self.import_chunk_size),
            "IOCD_HOST": self.host,
            "IOCD_PORT": str(self.port),
            "IOCD_SQLITE_CACHE_MIB": str(self.sqlite_cache_mib),
            "IOCD_SQLITE_MMAP_MIB": str(self.sqlite_mmap_mib),
            "IOCD_ALERT_DEDUPE_MINUTES": str(self.alert_dedupe_minutes),
            "IOCD_TELEMETRY_RETENTION_DAYS": str(self.telemetry_retention_days),
            "IOCD_HUNT_LOOKBACK_DAYS": str(self.hunt_lookback_days),
            "IOCD_SCAN_INTERVAL_MS": str(self.scan_interval_ms),
            "IOCD_INGEST_MAX_BACKLOG": str(self.ingest_max_backlog),
        }
        if self.database_url:
            env["IOCD_DATABASE_URL"] = self.database_url
        if self.nats_url:
            env["IOCD_NATS_URL"] = self.nats_url
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        if source.get("IOCD_DATA_DIR"):
            values["data_dir"] = Path(source["IOCD_DATA_DIR"]).expanduser()
        if source.get("IOCD_DATABASE_URL"):
            values["database_url"] = source["IOCD_DATABASE_URL"]
        if source.get("IOCD_NATS_URL"):
            values["nats_url"] = source["IOCD_NATS_URL"]
        for name in (
            "max_active_indicators",
            "import_batch_size",
            "import_chunk_size",
            "port",
            "sqlite_cache_mib",
            "sqlite_mmap_mib",
            "alert_dedupe_minutes",
            "telemetry_retention_days",
            "hunt_lookback_days",
            "scan_interval_ms",
            "ingest_max_backlog",
        ):
            key = f"IOCD_{name.upper()}"
            if source.get(key):
                try:
                    values[name] = int(source[key])
                except ValueError:
                    raise InvalidInput(key, f"{source[key]!r} is not a whole number") from None
        if source.get("IOCD_HOST"):
            values["host"] = source["IOCD_HOST"]
        return cls(**values)  # type: ignore[arg-type]
