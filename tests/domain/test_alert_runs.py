"""Deduplicating a batch over arrays (alert_runs) gives what folding each detection in time
order does (AlertRepeats.within / repeat, the rule of services.alerts), key by key; and
`fold` of a sorted run is `repeat` of each of its detections."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_runs import alert_runs
from iocd.domain.decision import Decision, Enforcement

T0 = 1_893_456_000_000_000  # 2030-01-01, microseconds since the epoch
MINUTE = 60_000_000
WINDOW = 10
DECISION = Decision(Enforcement.BLOCK, True, None, "rule")


def at(minutes: int) -> int:
    return T0 + minutes * MINUTE


def sequential(
    times: list[int], stored: tuple[int, int] | None
) -> tuple[int, list[tuple[int, int]]]:
    """One key's detections (sorted) folded one by one: how many fold into the stored alert,
    and each new alert's (first, last) positions."""
    window = WINDOW * MINUTE
    slot: AlertRepeats | None = None
    if stored is not None:
        slot = AlertRepeats(7, (1, "d", "e"), at(stored[0]), at(stored[1]), 1, False, None, None)
    into_stored, runs = 0, []
    for position, minutes in enumerate(times):
        if slot is not None and slot.within(at(minutes), window):
            slot.repeat(at(minutes), False, DECISION)
            if slot.alert_id:
                into_stored += 1
            else:
                runs[-1] = (runs[-1][0], position)
        else:
            slot = AlertRepeats.first((1, "d", "e"), at(minutes), False, DECISION)
            runs.append((position, position))
    return into_stored, runs


keys = st.lists(
    st.tuples(
        st.lists(st.integers(0, 120), min_size=1, max_size=12),
        st.one_of(st.none(), st.tuples(st.integers(0, 120), st.integers(0, 60))),
    ),
    min_size=1,
    max_size=8,
)


@given(keys)
def test_runs_over_arrays_equal_folding_one_by_one(
    batch: list[tuple[list[int], tuple[int, int] | None]],
) -> None:
    times: list[int] = []
    key_start: list[bool] = []
    stored, first, last = [], [], []
    expected_counts, expected_runs = [], []
    for key_times, span in batch:
        begin = len(times)
        ordered = sorted(key_times)
        times += ordered
        key_start += [True] + [False] * (len(ordered) - 1)
        window = None if span is None else (span[0], span[0] + span[1])
        stored.append(window is not None)
        first.append(window[0] if window else 0)
        last.append(window[1] if window else 0)
        count, runs = sequential(ordered, window)
        expected_counts.append(count)
        expected_runs += [(begin + a, begin + b) for a, b in runs]
    runs = alert_runs(
        np.array(key_start),
        np.array(times, dtype=np.int64),
        np.array(stored),
        np.array(first, dtype=np.int64),
        np.array(last, dtype=np.int64),
        WINDOW,
    )
    assert runs.stored_count.tolist() == expected_counts
    assert list(zip(runs.run_first.tolist(), runs.run_last.tolist(), strict=True)) == (
        expected_runs
    )


@given(
    st.lists(st.tuples(st.integers(-100, 100), st.booleans()), min_size=1, max_size=10),
    st.tuples(st.integers(-100, 100), st.integers(0, 50)),
)
def test_folding_a_sorted_run_is_repeating_each(
    run: list[tuple[int, bool]], span: tuple[int, int]
) -> None:
    run.sort(key=lambda item: item[0])
    decisions = [Decision(Enforcement.BLOCK, True, None, f"rule {n}") for n in range(len(run))]
    one, many = (
        AlertRepeats(
            1, (1, "d", "e"), at(span[0]), at(span[0] + span[1]), 3, True, at(0), at(span[1])
        )
        for _ in range(2)
    )
    for (minutes, historical), decision in zip(run, decisions, strict=True):
        one.repeat(at(minutes), historical, decision)
    many.fold(at(run[0][0]), at(run[-1][0]), len(run), all(h for _, h in run), decisions[-1])
    assert one == many


def test_no_detections_no_runs() -> None:
    empty = np.zeros(0, dtype=np.int64)
    runs = alert_runs(np.zeros(0, dtype=np.bool_), empty, np.zeros(0, np.bool_), empty, empty, 5)
    assert (len(runs.stored_count), len(runs.run_first), len(runs.run_last)) == (0, 0, 0)
