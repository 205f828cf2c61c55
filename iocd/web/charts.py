"""Inline SVG charts drawn on the server (no script library): the geometry, ready for a
template (templates/macros.html `bar_chart`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    """Under the bar (e.g. 'Mon 3')."""
    title: str
    """The tooltip and accessible text (e.g. '2025-03-03: 12 alerts')."""
    value: int


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    plot_left: float
    plot_bottom: float
    bars: list[Bar]
    ticks: list[Tick]


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def bar_chart(
    points: Sequence[tuple[str, str, int]], width: int = 640, height: int = 200
) -> BarChart:
    """Bars for (label, title, value) points, with a y axis of 0, half and the top value."""
    left, right, top, bottom = 36.0, 8.0, 16.0, 24.0
    plot_w = width - left - right
    plot_h = height - top - bottom
    top_value = _nice_max(max((v for _, _, v in points), default=0))
    slot = plot_w / max(len(points), 1)
    bars = []
    for n, (label, title, value) in enumerate(points):
        h = plot_h * value / top_value
        bars.append(
            Bar(
                x=round(left + n * slot + slot * 0.15, 2),
                y=round(top + plot_h - h, 2),
                width=round(slot * 0.7, 2),
                height=round(h, 2),
                label=label,
                title=title,
                value=value,
            )
        )
    ticks = [
        Tick(round(top + plot_h - plot_h * f, 2), f"{round(top_value * f):,}")
        for f in ((0.0, 0.5, 1.0) if top_value > 1 else (0.0, 1.0))
    ]
    return BarChart(width, height, left, top + plot_h, bars, ticks)
