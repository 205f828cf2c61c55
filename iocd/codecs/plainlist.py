"""Plain lists of indicator values, one per line (feeds such as ipsum, blocklists pasted by hand).

`#` starts a comment: a whole line, or the rest of a line after white space (so a URL fragment
like `page#top` stays part of the value). Blank lines are skipped. Each value's type is detected
with `domain.values.detect_type` unless the caller forces one; every other field comes from the
caller and is validated once, before any line is read. Each line is decoded and validated on its
own: a bad line fails alone, by its physical line number, and reading goes on. Memory stays bounded
by MAX_LINE_BYTES whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from typing import BinaryIO, Literal

from iocd.codecs.csv import COLUMNS
from iocd.codecs.rows import (
    UTF8_BOM,
    CsvRow,
    ParsedItem,
    RowFailure,
    echo,
    echo_bytes,
    utf8_failure,
)
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import (
    IndicatorFields,
    check_text,
    parse_datetime,
    resolve_generate_alert,
)
from iocd.domain.scope import check_group_names
from iocd.domain.types import (
    Action,
    IndicatorType,
    Severity,
    parse_action,
    parse_indicator_type,
    parse_severity,
)
from iocd.domain.values import detect_type
from iocd.errors import InvalidInput

MAX_LINE_BYTES = 64 * 1024
_TRAILING_COMMENT = re.compile(r"\s#")
_HEADER_NAMES = frozenset(name.casefold() for name in COLUMNS)


def read_plain_list(
    stream: BinaryIO,
    *,
    indicator_type: IndicatorType | str | None,
    action: Action | str,
    title: str,
    description: str,
    severity: Severity | str | None = None,
    expiration_time: datetime | str | None = None,
    generate_alert: bool | None = None,
    rbac_group_names: Iterable[str] = (),
) -> Iterator[ParsedItem]:
    """One CsvRow or RowFailure per non-blank, non-comment line, in file order.

    The shared fields are checked now (InvalidInput if any is wrong, before any line); whether
    `action` suits each value's type is checked per line.
    """
    forced = None
    if indicator_type is not None and indicator_type != "":
        forced = (
            indicator_type
            if isinstance(indicator_type, IndicatorType)
            else parse_indicator_type(indicator_type)
        )
    chosen_action = action if isinstance(action, Action) else parse_action(action)
    if isinstance(severity, str) and not isinstance(severity, Severity):
        severity = parse_severity(severity) if severity.strip() else None
    if isinstance(expiration_time, str):
        expiration_time = (
            parse_datetime("expirationTime", expiration_time) if expiration_time.strip() else None
        )
    resolve_generate_alert(chosen_action, generate_alert)
    build = partial(
        build_fields,
        action=chosen_action,
        title=check_text("title", title, required=True),
        description=check_text("description", description, required=True),
        severity=severity,
        expiration_time=expiration_time,
        generate_alert=generate_alert,
        rbac_group_names=check_group_names(rbac_group_names),
    )
    return _read(stream, forced, build)


def _read(
    stream: BinaryIO, forced: IndicatorType | None, build: Callable[..., IndicatorFields]
) -> Iterator[ParsedItem]:
    for line, value in _values(stream):
        if isinstance(value, RowFailure):
            yield value
            continue
        kind = forced or detect_type(value)
        try:
            fields = build(indicator_type=kind, value=value)
        except InvalidInput as exc:
            detected = "" if forced else f" (detected type: {kind.value})"
            yield RowFailure(line, f"{exc.field}: {exc.reason}{detected}", echo(value))
            continue
        yield CsvRow(line, fields)


def _values(stream: BinaryIO) -> Iterator[tuple[int, str | RowFailure]]:
    """(line number, value with comments and white space removed, or the line's failure)."""
    readline = stream.readline
    line_no = 0
    data = readline(MAX_LINE_BYTES)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    while data:
        line_no += 1
        if data[-1:] != b"\n" and len(data) >= MAX_LINE_BYTES:
            head, size = data, len(data)
            while data and data[-1:] != b"\n":  # skip the rest of the line, unread
                data = readline(MAX_LINE_BYTES)
                size += len(data)
            reason = f"line is {size} bytes long; the limit is {MAX_LINE_BYTES}"
            yield line_no, RowFailure(line_no, reason, echo_bytes(head))
            data = readline(MAX_LINE_BYTES)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield line_no, utf8_failure(line_no, data, exc)
            data = readline(MAX_LINE_BYTES)
            continue
        data = readline(MAX_LINE_BYTES)
        if "#" in text:
            if text.lstrip().startswith("#"):
                continue
            comment = _TRAILING_COMMENT.search(text)
            if comment is not None:
                text = text[: comment.start()]
        value = text.strip()
        if value:
            yield line_no, value


def sniff_format(first_bytes: bytes) -> Literal["csv", "list"]:
    """ "csv" if the first meaningful line is a header naming an MDE CSV column, else "list".

    `first_bytes` may be any prefix of the file (a few KiB is plenty); a cut line is fine.
    """
    text = first_bytes.removeprefix(UTF8_BOM).decode("utf-8", "replace")
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = {cell.strip().strip('"').strip().casefold() for cell in stripped.split(",")}
        return "csv" if cells & _HEADER_NAMES else "list"
    return "list"
