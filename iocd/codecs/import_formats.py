"""Which reader opens an import: the one place the CLI, the portal and the API choose it.

A door names the format (`auto`, `csv`, `list`, `stix`, `misp`) and the caller's options; this
module checks them all once, before any row is read (InvalidInput naming the option), detects
the format from the file's first bytes when asked, and returns the row reader. Options that a
format does not use are ignored: a CSV carries its own action, severity and groups per row.

    options              csv   list   stix   misp
    action, severity      -     x      x      x
    expires, groups       -     x      x      x
    type, title, descr.   -     x      -      -
    include_non_ids       -     -      -      x
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from iocd.codecs.ahead import RowReader
from iocd.codecs.csv import read_csv
from iocd.codecs.interchange import ImportDefaults, sniff_json_format
from iocd.codecs.misp import read_misp
from iocd.codecs.plainlist import read_plain_list, sniff_format
from iocd.codecs.stix import read_stix
from iocd.domain.indicator import parse_datetime
from iocd.domain.types import IndicatorType, parse_indicator_type
from iocd.errors import InvalidInput

SNIFF_BYTES = 8192
"""How much of the file `detect_format` needs."""
AUTO = "auto"
KnownBenign = Callable[[IndicatorType, str], str | None]
"""(type, canonical value) -> why the value is known benign (a MISP warninglist), or None."""


class ImportFormat(StrEnum):
    CSV = "csv"
    LIST = "list"
    STIX = "stix"
    MISP = "misp"

    @property
    def is_document(self) -> bool:
        """Parsed whole before the first item (JSON); its items are numbered, not lines."""
        return self in (ImportFormat.STIX, ImportFormat.MISP)


FORMAT_NAMES = (AUTO, *(f.value for f in ImportFormat))


def parse_format(raw: str | None, field: str = "format") -> ImportFormat | None:
    """The named format, or None for `auto` (detect from the file)."""
    chosen = (raw or AUTO).strip().lower()
    if chosen == AUTO:
        return None
    try:
        return ImportFormat(chosen)
    except ValueError:
        raise InvalidInput(field, f"{raw!r}: expected {', '.join(FORMAT_NAMES)}") from None


def detect_format(first_bytes: bytes) -> ImportFormat:
    """The format of a file from its first SNIFF_BYTES: a STIX bundle or MISP event (JSON),
    else CSV when the first line is a header naming an MDE column, else a plain list."""
    return ImportFormat(sniff_json_format(first_bytes) or sniff_format(first_bytes[:4096]))


def parse_expiry(raw: str | None, now: datetime, field: str = "expires") -> datetime | None:
    """An expiry given as ISO-8601 or as a duration from now (`90m`, `12h`, `30d`, `2w`);
    None for nothing or `never`."""
    if raw is None or not raw.strip() or raw.strip().lower() == "never":
        return None
    match = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", raw)
    if match:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return now + timedelta(**{unit: int(match.group(1))})
    return parse_datetime(field, raw)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What the caller says about every row of a list, STIX or MISP file (raw, as typed)."""

    action: str = "Audit"
    severity: str | None = None
    expires: str | None = None
    """ISO-8601, or a duration from now (`30d`)."""
    groups: tuple[str, ...] = ()
    indicator_type: str | None = None
    """Lists: force one type (else each value's type is detected)."""
    title: str | None = None
    """Lists: the title (default: `Imported from <source>`)."""
    description: str | None = None
    include_non_ids: bool = False
    """MISP: import attributes whose to_ids is off too."""

    def groups_for(self, chosen: ImportFormat) -> tuple[str, ...] | None:
        """The device groups every row of `chosen` gets (None: each CSV row names its own),
        for checking the caller's scope before anything is read."""
        return None if chosen is ImportFormat.CSV else self.groups


def choose_reader(
    chosen: ImportFormat,
    options: ImportOptions,
    *,
    source_name: str,
    now: datetime,
    known_benign: KnownBenign | None = None,
) -> RowReader:
    """The reader of `chosen` with the options applied; InvalidInput now if one is wrong.

    `source_name` (a file name) makes a list's default title; `known_benign` screens MISP
    values against the warninglists."""
    if chosen is ImportFormat.CSV:
        return read_csv
    expiry = parse_expiry(options.expires, now)
    if chosen is ImportFormat.LIST:
        title = (options.title or "").strip() or f"Imported from {source_name}"
        reader = partial(
            read_plain_list,
            indicator_type=(
                parse_indicator_type(options.indicator_type) if options.indicator_type else None
            ),
            action=options.action,
            title=title,
            description=(options.description or "").strip() or title,
            severity=options.severity,
            expiration_time=expiry,
            generate_alert=None,
            rbac_group_names=options.groups,
        )
        reader(io.BytesIO(b""))  # checks the options now, reading nothing
        return reader
    defaults = ImportDefaults.of(options.action, options.severity, expiry, options.groups)
    if chosen is ImportFormat.STIX:
        return partial(read_stix, defaults=defaults, now=now)
    return partial(
        read_misp,
        defaults=defaults,
        include_non_ids=options.include_non_ids,
        known_benign=known_benign,
    )
