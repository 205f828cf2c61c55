"""Folding repeats into an alert's tally: times widen, the count grows, the latest decision
stays, historical only while every detection is, and the evidence's times move."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.decision import Decision, Enforcement

T0 = 1_893_456_000_000_000  # 2030-01-01, microseconds since the epoch
MINUTE = 60_000_000
HOUR = 60 * MINUTE
KEY = (1, "dev-1", "ab" * 32)


def decision(n: int) -> Decision:
    return Decision(Enforcement.BLOCK, True, None, f"rule {n}")


detections = st.lists(st.tuples(st.integers(-1000, 1000), st.booleans()), min_size=1, max_size=30)


@given(detections)
def test_a_sequence_of_detections_folds_to_its_span_count_and_latest_decision(
    seen: list[tuple[int, bool]],
) -> None:
    times = [T0 + m * MINUTE for m, _ in seen]
    h0, rest = seen[0][1], seen[1:]
    tally = AlertRepeats.first(KEY, times[0], h0, decision(0))
    for n, (minutes, historical) in enumerate(rest, start=1):
        tally.repeat(T0 + minutes * MINUTE, historical, decision(n))
    assert (tally.first_micros, tally.last_micros) == (min(times), max(times))
    assert (tally.evidence_micros, tally.evidence_seen_micros) == (min(times), max(times))
    assert tally.evidence_moved == (min(times) != max(times))
    assert tally.occurrences == len(seen)
    assert tally.historical == all(h for _, h in seen)
    latest = max(range(len(seen)), key=lambda n: (times[n], n))  # ties: the later detection
    assert tally.decision == decision(latest)


def test_within_the_window_of_its_events() -> None:
    tally = AlertRepeats.first(KEY, T0, False, decision(0))
    tally.repeat(T0 + 2 * HOUR, False, decision(1))
    window = HOUR
    assert tally.within(T0 - window, window) and tally.within(T0 + 3 * window, window)
    assert not tally.within(T0 - 2 * window, window)
    assert not tally.within(T0 + 4 * window, window)
