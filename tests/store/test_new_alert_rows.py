"""A raise's new alerts are written straight from their parts (`new_alert_rows`): the rows
equal `alert_row` of the `Alert` values the same parts make (`NewAlerts.alerts`), on both
dialects' storage forms; and `wire_times` formats as `format_datetime` does."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_sources import AlertSource
from iocd.domain.alerts import EventValues
from iocd.domain.detection_columns import AlertFacts
from iocd.domain.indicator import format_datetime
from iocd.domain.instants import from_micros, micros, wire_times
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.types import Severity
from iocd.store.alert_rows import alert_row, new_alert_rows, time_encoder
from iocd.store.mapping import date_encoder
from tests.alert_factories import make_decision

LOWEST, HIGHEST = micros(datetime(1, 1, 1, tzinfo=UTC)), micros(datetime(9999, 12, 31, tzinfo=UTC))
instants = st.integers(LOWEST, HIGHEST)
texts = st.text(max_size=8)
maybe = st.none() | texts


@given(st.lists(instants, max_size=20))
def test_wire_times_are_format_datetime(values: list[int]) -> None:
    assert wire_times(values) == [format_datetime(from_micros(v)) for v in values]


@st.composite
def new_alert_parts(draw: st.DrawFn) -> tuple[AlertFacts, AlertSource, AlertRepeats]:
    entity_type = draw(st.sampled_from(["File", "Ip", "Url", "DomainName"]))
    values = EventValues(
        draw(maybe), draw(maybe), draw(maybe), draw(maybe), draw(maybe),
        draw(st.none() | st.integers(0, 65535)), draw(maybe), draw(maybe),
    )  # fmt: skip
    facts = AlertFacts(entity_type, draw(texts), draw(maybe), draw(texts), values)
    indicator = draw(st.integers(1, 10**9))
    source = AlertSource(
        indicator,
        draw(texts),
        draw(texts),
        draw(st.sampled_from(list(Severity))),
        draw(maybe),
        tuple(draw(st.lists(st.sampled_from(["T1204", "T1059.001"]), max_size=2))),
        draw(maybe),
        draw(texts),
    )
    first = draw(instants)
    last = draw(st.integers(first, HIGHEST))
    seen = draw(st.none() | st.tuples(st.integers(first, last), st.integers(first, last)))
    repeats = AlertRepeats(
        0,
        (indicator, draw(texts), draw(texts)),
        first,
        last,
        draw(st.integers(1, 1000)),
        draw(st.booleans()),
        None if seen is None else min(seen),
        None if seen is None else max(seen),
        make_decision(indicator),
    )
    return facts, source, repeats


@given(st.lists(new_alert_parts(), max_size=5), st.sampled_from(["sqlite", "postgresql"]))
def test_rows_from_parts_are_the_rows_of_the_alerts(
    parts: list[tuple[AlertFacts, AlertSource, AlertRepeats]], dialect: str
) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    new = NewAlerts(
        list(range(1, len(parts) + 1)),
        [facts for facts, _, _ in parts],
        [source for _, source, _ in parts],
        [repeats for _, _, repeats in parts],
        now,
    )
    encode = date_encoder(dialect)
    expected = [alert_row(alert, encode) for alert in new.alerts()]
    assert new_alert_rows(new, encode, time_encoder(dialect)) == expected
