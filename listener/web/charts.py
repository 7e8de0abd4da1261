"""Server-rendered line charts: numbers in, SVG geometry out (the template draws it).

Pure: no I/O and no SVG strings built here, so every label still goes through the template's
autoescaping. Charts need no script at all, which keeps the page's CSP strict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WIDTH = 900
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 30


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True, slots=True)
class Marker:
    at: datetime
    label: str
    href: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class DrawnSeries:
    name: str
    css: str
    path: str
    last_value: float


@dataclass(frozen=True, slots=True)
class DrawnMarker:
    x: float
    label: str
    href: str
    anchor: str = "start"


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    series: list[DrawnSeries] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    markers: list[DrawnMarker] = field(default_factory=list)
    empty: bool = False


_TICK_STEPS = [
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=7),
]


def _ceil(moment: datetime, step: timedelta) -> datetime:
    """The first whole step (hour, day ...) at or after `moment`, counted from midnight."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = -(-(moment - midnight) // step)
    return midnight + steps * step


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    markers: Sequence[Marker] = (),
    y_max: float | None = None,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> LineChart:
    """Lay out `series` over [start, end]; incidents become dashed vertical markers."""
    span = max((end - start).total_seconds(), 1.0)
    left, right = float(LEFT), float(WIDTH - RIGHT)
    top, bottom = float(TOP), float(HEIGHT - BOTTOM)
    highest = max((v for s in series for _, v in s.points), default=0.0)
    top_value = y_max if y_max is not None else _nice_max(highest)

    def x_of(moment: datetime) -> float:
        return left + (right - left) * (moment - start).total_seconds() / span

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * min(value, top_value) / top_value

    drawn = []
    for index, s in enumerate(series):
        points = sorted(p for p in s.points if start <= p[0] <= end)
        if not points:
            continue
        commands = [
            f"{'M' if i == 0 else 'L'}{x_of(t):.1f},{y_of(v):.1f}"
            for i, (t, v) in enumerate(points)
        ]
        drawn.append(DrawnSeries(s.name, f"c{index % 6}", " ".join(commands), points[-1][1]))
    x_ticks = []
    step = next((t for t in _TICK_STEPS if span / t.total_seconds() <= 8), _TICK_STEPS[-1])
    moment = _ceil(start, step)
    while moment <= end:
        label = moment.strftime("%H:%M") if step < timedelta(days=1) else moment.strftime("%d %b")
        if step < timedelta(days=1) and moment.hour == 0:
            label = moment.strftime("%d %b")
        x_ticks.append(Tick(x_of(moment), label))
        moment += step
    # Counts get whole-number ticks (50 -> 0, 10, ... 50 rather than 12.5 steps).
    divisions = 4
    if y_max is None:
        divisions = next((n for n in (4, 5, 2) if (top_value / n).is_integer()), 4)
    y_ticks = [
        Tick(y_of(top_value * i / divisions), y_format(top_value * i / divisions))
        for i in range(divisions + 1)
    ]
    # A label near the right edge runs leftwards so it stays inside the chart.
    drawn_markers = [
        DrawnMarker(x_of(m.at), m.label, m.href, "end" if x_of(m.at) > right - 200 else "start")
        for m in markers
        if start <= m.at <= end
    ]
    return LineChart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        series=drawn,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        markers=drawn_markers,
        empty=not drawn,
    )
