"""The MDE indicator CSV (SPEC section 8): streaming reader, writer and import template.

Reading never holds more than one record (at most MAX_RECORD_BYTES) in memory. Records are framed
on raw bytes by a small quote-state machine that follows the csv module's default dialect, then each
record is decoded as UTF-8 and split by the csv module. So a record with bad bytes, an oversized
record or a malformed one fails alone, by its first physical line, and reading goes on with the next
record. Every row is validated by `domain.drafts.build_fields`; failures name the CSV column.

Writing produces the same header and column order with CRLF line ends, canonical values and wire
datetimes, so an export reads back to the same IndicatorFields (apart from raw_value).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, TextIO

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
from iocd.domain.indicator import Indicator, IndicatorFields, format_datetime
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput

COLUMNS = (
    "IndicatorType",
    "IndicatorValue",
    "ExpirationTime",
    "Action",
    "Severity",
    "Title",
    "Description",
    "RecommendedActions",
    "RbacGroups",
    "Category",
    "MitreTechniques",
    "GenerateAlert",
)
"""The MDE sample header, in its order."""

EXTRA_COLUMNS = ("Application", "EducateUrl", "ExternalId")
"""iocd extensions: read when present, written only when asked (`extra_columns=True`)."""

REQUIRED_COLUMNS = ("IndicatorType", "IndicatorValue", "Action")

MAX_CELL_CHARS = 64 * 1024
MAX_RECORD_BYTES = 1024 * 1024
"""A record (one row, all its physical lines) larger than this is skipped unread."""
READ_CHUNK = 64 * 1024

_KNOWN = {name.casefold(): name for name in COLUMNS + EXTRA_COLUMNS}
# Wire field name (as InvalidInput names it) -> CSV column: the column with a lower-case initial.
_COLUMN_OF_FIELD = {name[0].lower() + name[1:]: name for name in COLUMNS + EXTRA_COLUMNS}
_COLUMN_OF_FIELD["rbacGroupNames"] = "RbacGroups"
_BOOLEANS = {"true": True, "false": False}
_ENUM_CACHE_SIZE = 64

# Quote states of the record framer, as in the csv module's parser (default dialect, not strict).
_FIELD_START, _IN_FIELD, _IN_QUOTED, _QUOTE_IN_QUOTED = range(4)
_QUOTE = 0x22
_COMMA = 0x2C


def _advance(chunk: bytes, state: int) -> int:
    """The quote state after `chunk`; jumps between quotes and commas, never char by char.

    A quote opens a quoted cell only at the start of a cell; inside one, a doubled quote is literal
    and a single quote closes it (anything up to the next comma is then literal, as csv reads it).
    """
    i, n = 0, len(chunk)
    while i < n:
        if state == _IN_QUOTED:
            j = chunk.find(b'"', i)
            if j < 0:
                return _IN_QUOTED
            i, state = j + 1, _QUOTE_IN_QUOTED
        elif state in (_QUOTE_IN_QUOTED, _FIELD_START):
            # A quote here is a doubled (escaped) quote, or opens a quoted cell.
            if chunk[i] == _QUOTE:
                i, state = i + 1, _IN_QUOTED
            else:
                state = _IN_FIELD
        else:
            j = chunk.find(b'"', i)
            if j < 0:
                return _FIELD_START if chunk[-1] == _COMMA else _IN_FIELD
            i = j + 1
            if j > 0 and chunk[j - 1] == _COMMA:
                state = _IN_QUOTED
    return state


def _records(stream: BinaryIO) -> Iterator[tuple[int, str] | RowFailure]:
    """(first line, decoded text) of each non-blank record, or the failure of an unreadable one."""
    readline = stream.readline
    line_no = 0
    chunk = readline(READ_CHUNK)
    if chunk.startswith(UTF8_BOM):
        chunk = chunk[len(UTF8_BOM) :]
    while chunk:
        start = line_no + 1
        if chunk[-1:] == b"\n" and b'"' not in chunk:
            # Fast path: one whole physical line without quotes is one record.
            line_no += 1
            if not chunk.isspace():
                try:
                    yield start, chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield utf8_failure(start, chunk, exc)
            chunk = readline(READ_CHUNK)
            continue
        parts: list[bytes] = []
        size = 0
        head = chunk[:512]
        state = _FIELD_START
        while True:
            state = _advance(chunk, state)
            size += len(chunk)
            if size <= MAX_RECORD_BYTES:
                parts.append(chunk)
            else:
                parts.clear()
            ended = chunk[-1:] == b"\n"
            line_no += ended
            if ended and state != _IN_QUOTED:
                chunk = readline(READ_CHUNK)
                break
            chunk = readline(READ_CHUNK)
            if not chunk:
                break
        if size > MAX_RECORD_BYTES:
            reason = (
                f"row is {size} bytes long; the limit is {MAX_RECORD_BYTES} bytes for a row and "
                f"{MAX_CELL_CHARS} characters for a cell"
            )
            yield RowFailure(start, reason, echo_bytes(head))
            continue
        data = b"".join(parts)
        if len(parts) > 1:
            # Line breaks inside quoted cells are text: store them as \n whatever the file used.
            data = data.replace(b"\r\n", b"\n")
        if state == _IN_QUOTED:
            reason = "a quoted cell opened on this line is never closed (end of file reached)"
            yield RowFailure(start, reason, echo_bytes(data))
        elif data.isspace():
            continue
        else:
            try:
                yield start, data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield utf8_failure(start, data, exc)


def _split(text: str) -> list[str]:
    return next(csv.reader((text,)))


def _csv_problem(error: csv.Error) -> str:
    """The csv module's complaint in the importer's terms."""
    message = str(error)
    if message.startswith("new-line character seen in unquoted field"):
        return "a bare carriage return (CR) breaks the row; use CRLF or LF line ends"
    return message


class _Layout:
    """Where each known column sits in this file's header; absent columns read as empty."""

    def __init__(self, header: Sequence[str], line: int) -> None:
        positions: dict[str, int] = {}
        for index, cell in enumerate(header):
            name = _KNOWN.get(cell.strip().casefold())
            if name is None:
                continue
            if name in positions:
                raise InvalidInput("header", f"column {name} appears more than once")
            positions[name] = index
        missing = [name for name in REQUIRED_COLUMNS if name not in positions]
        if not positions:
            raise InvalidInput(
                "header",
                f"the file has no header: line {line} names none of the columns; "
                f"the first line must be {','.join(COLUMNS)} (any order and case)",
                "MissingRequiredParameter",
            )
        if missing:
            raise InvalidInput(
                "header",
                f"the header (line {line}) lacks the column(s) {', '.join(missing)}; "
                f"expected {','.join(COLUMNS)} (any order and case)",
                "MissingRequiredParameter",
            )
        self.width = len(header)
        self.names = list(header)
        # Absent columns point one past the end, where every row gets an empty cell.
        self.index = {name: positions.get(name, self.width) for name in _KNOWN.values()}

    def column_at(self, position: int) -> str:
        return _KNOWN.get(self.names[position].strip().casefold(), self.names[position])


def read_csv(stream: BinaryIO) -> Iterator[ParsedItem]:
    """Rows of an MDE indicator CSV, in file order, each a CsvRow or a RowFailure.

    The header is read now: a missing or incomplete one raises InvalidInput before any row.
    The rows are then read lazily, one record at a time.
    """
    if csv.field_size_limit() < MAX_RECORD_BYTES:
        csv.field_size_limit(MAX_RECORD_BYTES)  # our own limits (cell, record) apply first
    records = _records(stream)
    for item in records:
        if isinstance(item, RowFailure):
            raise InvalidInput("header", f"line {item.line}: {item.reason}")
        line, text = item
        try:
            header = _split(text)
        except csv.Error as exc:
            raise InvalidInput(
                "header", f"line {line} is not valid CSV: {_csv_problem(exc)}"
            ) from None
        return _rows(records, _Layout(header, line))
    raise InvalidInput(
        "header",
        f"the file is empty; expected a header line {','.join(COLUMNS)}",
        "MissingRequiredParameter",
    )


def _rows(records: Iterator[tuple[int, str] | RowFailure], layout: _Layout) -> Iterator[ParsedItem]:
    index = layout.index
    width = layout.width
    i_type, i_value, i_expiry = (
        index["IndicatorType"],
        index["IndicatorValue"],
        index["ExpirationTime"],
    )
    i_action, i_severity, i_title = index["Action"], index["Severity"], index["Title"]
    i_description, i_recommended = index["Description"], index["RecommendedActions"]
    i_groups, i_category, i_techniques = (
        index["RbacGroups"],
        index["Category"],
        index["MitreTechniques"],
    )
    i_alert, i_application = index["GenerateAlert"], index["Application"]
    i_educate, i_external = index["EducateUrl"], index["ExternalId"]
    padding = [""] * (width + 1)
    # Cell text -> parsed enum, learnt from valid rows: build_fields then skips its enum lookups.
    types: dict[str, IndicatorType] = {}
    actions: dict[str, Action] = {}
    severities: dict[str, Severity] = {}
    for item in records:
        if isinstance(item, RowFailure):
            yield item
            continue
        line, text = item
        try:
            cells = _split(text)
        except csv.Error as exc:
            yield RowFailure(line, f"not valid CSV: {_csv_problem(exc)}", echo(text))
            continue
        count = len(cells)
        if count == width:
            cells.append("")
        elif count < width:
            cells.extend(padding[count:])
        else:
            del cells[width:]
            cells.append("")
        if len(text) > MAX_CELL_CHARS:
            failure = _oversized_cell(line, cells, layout, text)
            if failure is not None:
                yield failure
                continue
        if not cells[i_value] and not "".join(cells).strip():
            continue  # a row of empty cells, as spreadsheets write them
        alert_text = cells[i_alert].strip()
        alert: bool | None = None
        if alert_text:
            alert = _BOOLEANS.get(alert_text.casefold())
            if alert is None:
                reason = f"GenerateAlert: {alert_text!r} is not true or false"
                yield RowFailure(line, reason, echo(text))
                continue
        groups, techniques = cells[i_groups], cells[i_techniques]
        type_text, action_text, severity_text = cells[i_type], cells[i_action], cells[i_severity]
        try:
            fields = build_fields(
                indicator_type=types.get(type_text) or type_text,
                value=cells[i_value],
                action=actions.get(action_text) or action_text,
                title=cells[i_title],
                description=cells[i_description],
                severity=severities.get(severity_text) or severity_text,
                generate_alert=alert,
                expiration_time=cells[i_expiry],
                recommended_actions=cells[i_recommended],
                application=cells[i_application],
                educate_url=cells[i_educate],
                external_id=cells[i_external],
                category=cells[i_category],
                mitre_techniques=techniques.split(",") if techniques else (),
                rbac_group_names=groups.split(",") if groups else (),
            )
        except InvalidInput as exc:
            column = _COLUMN_OF_FIELD.get(exc.field, exc.field)
            yield RowFailure(line, f"{column}: {exc.reason}", echo(text))
            continue
        if len(actions) < _ENUM_CACHE_SIZE:
            types.setdefault(type_text, fields.indicator_type)
            actions.setdefault(action_text, fields.action)
            severities.setdefault(severity_text, fields.severity)
        yield CsvRow(line, fields)


def _oversized_cell(line: int, cells: list[str], layout: _Layout, text: str) -> RowFailure | None:
    for position, cell in enumerate(cells[: layout.width]):
        if len(cell) > MAX_CELL_CHARS:
            reason = (
                f"{layout.column_at(position)}: cell is {len(cell)} characters long; "
                f"the limit is {MAX_CELL_CHARS}"
            )
            return RowFailure(line, reason, echo(text))
    return None


def fields_to_cells(fields: IndicatorFields, *, extra_columns: bool = False) -> list[str]:
    """One CSV row for `fields`, in COLUMNS order (then EXTRA_COLUMNS when asked)."""
    expiry = fields.expiration_time
    cells = [
        fields.indicator_type.value,
        fields.value,
        format_datetime(expiry) if expiry is not None else "",
        fields.action.value,
        fields.severity.value,
        fields.title,
        fields.description,
        fields.recommended_actions or "",
        ",".join(fields.rbac_group_names),
        fields.category or "",
        ",".join(fields.mitre_techniques),
        "true" if fields.generate_alert else "false",
    ]
    if extra_columns:
        cells += [fields.application or "", fields.educate_url or "", fields.external_id or ""]
    return cells


def write_csv(
    indicators: Iterable[Indicator], stream: TextIO, *, extra_columns: bool = False
) -> int:
    """Write the header and one row per indicator (CRLF line ends); returns the rows written.

    `stream` should be opened with newline="" so the CRLF line ends are written as they are.
    With `extra_columns`, Application, EducateUrl and ExternalId follow the MDE columns.
    """
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS if extra_columns else COLUMNS)
    count = 0
    for indicator in indicators:
        writer.writerow(fields_to_cells(indicator.fields, extra_columns=extra_columns))
        count += 1
    return count


_TEMPLATE = """\
FileSha256,275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f,2030-12-31T00:00:00Z,BlockAndRemediate,High,EICAR test file,The EICAR anti-malware test file (SHA-256),Quarantine the file and scan the device,,Malware,T1204.002,true
FileSha1,3395856ce81f2b7382dee72602f798b642f14140,,Block,Medium,EICAR test file,The EICAR anti-malware test file (SHA-1),,,Malware,T1204.002,true
FileMd5,44d88612fea8a8f36de82e1278abb02f,,Audit,Low,EICAR test file,"The EICAR anti-malware test file (MD5), watched only",,,,,true
CertificateThumbprint,5d8f3a6c0e91b2a47c3e8f1d6b0a9c2e4f7d1b35,,Block,High,Stolen code-signing certificate,Certificate used to sign a trojanised installer,Revoke trust in the signer,,Execution,"T1553.002,T1588.003",true
IpAddress,203.0.113.0/24,2030-06-30T12:00:00Z,Audit,Medium,Scanner network (documentation range),Audit connections to a range seen scanning,,,CommandAndControl,T1071,true
DomainName,c2.malicious-updates.example,,Audit,High,Command-and-control domain,Beaconing domain and all its subdomains,Isolate devices that resolve it,,CommandAndControl,"T1071.004,T1568",true
Url,https://login.phishing-site.example/portal/signin?session=1,,Audit,Medium,Credential phishing page,Fake sign-in page; the URL and every URL under its path,Reset the password of users who visited it,,InitialAccess,T1566.002,true
"""  # noqa: E501 (the rows are kept as the CSV they are)


def template_rows() -> list[dict[str, str]]:
    """One realistic example row per indicator type, each valid and importable as it stands.

    Values are test or documentation values (EICAR hashes, 203.0.113.0/24, `.example` names);
    network rows use Audit, which no guardrail refuses.
    """
    return [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(_TEMPLATE.splitlines())]


def write_template(stream: TextIO) -> int:
    """Write the header and the template rows (CRLF line ends); returns the rows written."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    rows = template_rows()
    writer.writerows(row.values() for row in rows)
    return len(rows)
