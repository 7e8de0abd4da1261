"""Server-rendered line charts: numbers in, SVG geometry out (the template draws it).

Pure: no I/O and no SVG strings built here, so every label still goes through the template's
autoescaping. Charts need no script at all, which keeps the page's CSP strict.
"""

from __future__ import annotations

import math
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
    """An incident on the time axis: `at` its first mention, `until` its last (if later)."""

    at: datetime
    label: str
    href: str = ""
    until: datetime | None = None
    short: str = ""  # what is printed on the chart ("#12"); the full label is listed below


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
    dots: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DrawnMarker:
    """A shaded band over the incident's mentions, its short label on lane `lane` above."""

    x: float
    width: float
    label: str
    short: str
    href: str
    label_x: float
    label_y: float
    anchor: str = "start"
    span: str = ""


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


def y_scale(highest: float, *, whole: bool = True) -> tuple[float, list[float]]:
    """The top of the y axis and its ticks: distinct round numbers (steps of 1, 2 or 5 times a
    power of ten), whole numbers for counts, at most about five of them."""
    if highest <= 0:
        return 1.0, [0.0, 1.0]
    rough = highest / 4
    power = 10 ** math.floor(math.log10(rough))
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= rough), 10 * power)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    top = math.ceil(highest / step - 1e-9) * step
    count = round(top / step)
    return float(top), [step * i for i in range(count + 1)]


def zero_filled(
    points: Sequence[tuple[datetime, float]], start: datetime, end: datetime, bucket_seconds: int
) -> list[tuple[datetime, float]]:
    """Counts for every bucket in [start, end), 0 where nothing was counted: a line drawn
    only through the buckets that had mentions would slope across the quiet hours between."""
    counted = {moment: value for moment, value in points}
    first = -(-int(start.timestamp()) // bucket_seconds) * bucket_seconds
    filled = []
    moment = datetime.fromtimestamp(first, tz=start.tzinfo)
    while moment < end:
        filled.append((moment, counted.get(moment, 0.0)))
        moment += timedelta(seconds=bucket_seconds)
    return filled


LABEL_CHAR = 6.6  # px per character of an 11px label: enough to keep labels apart
LANE = 15  # px between stacked marker labels (an 11px label box is about 14px tall)
MAX_LANES = 4


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
    """Lay out `series` over [start, end]; incidents become shaded bands over their mentions'
    time span, their short labels stacked in lanes above the plot so none overprints another."""
    span = max((end - start).total_seconds(), 1.0)
    shown = sorted(
        (m for m in markers if start <= (m.until or m.at) and m.at <= end), key=lambda m: m.at
    )
    lanes = _lanes(shown, start, span)
    top_pad = TOP + LANE * (max((n for n in lanes if n is not None), default=-1) + 1)
    left, right = float(LEFT), float(WIDTH - RIGHT)
    top, bottom = float(top_pad), float(HEIGHT - BOTTOM)
    highest = max((v for s in series for _, v in s.points), default=0.0)
    if y_max is not None:
        top_value, y_values = y_max, [y_max * i / 4 for i in range(5)]
    else:
        top_value, y_values = y_scale(highest)

    def x_of(moment: datetime) -> float:
        return left + (right - left) * (moment - start).total_seconds() / span

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * min(value, top_value) / top_value

    drawn = []
    for index, s in enumerate(series):
        points = sorted(p for p in s.points if start <= p[0] <= end)
        if not points:
            continue
        xy = [(round(x_of(t), 1), round(y_of(v), 1)) for t, v in points]
        # One point has no line to draw: it is shown as a dot.
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy))
        # Dots mark what was counted (a quiet bucket is just the line at 0).
        dots = [p for p, (_, v) in zip(xy, points, strict=True) if v or len(points) == 1]
        drawn.append(DrawnSeries(s.name, f"c{index % 6}", path, points[-1][1], dots))
    x_ticks = []
    step = next((t for t in _TICK_STEPS if span / t.total_seconds() <= 8), _TICK_STEPS[-1])
    moment = _ceil(start, step)
    while moment <= end:
        label = moment.strftime("%H:%M") if step < timedelta(days=1) else moment.strftime("%d %b")
        if step < timedelta(days=1) and moment.hour == 0:
            label = moment.strftime("%d %b")
        x = x_of(moment)
        # A label at either edge runs inwards so it is not cut off.
        anchor = "end" if x > right - 24 else "start" if x < left + 24 else "middle"
        x_ticks.append(Tick(x, label, anchor))
        moment += step
    y_ticks = [Tick(y_of(v), y_format(v)) for v in y_values]
    drawn_markers = []
    for marker, lane in zip(shown, lanes, strict=True):
        x1 = x_of(max(marker.at, start))
        x2 = x_of(min(marker.until or marker.at, end))
        anchor = "end" if x1 > right - 60 else "start"
        drawn_markers.append(
            DrawnMarker(
                x=x1,
                width=max(x2 - x1, 2.0),
                label=marker.label,
                short="" if lane is None else marker.short or marker.label,
                href=marker.href,
                label_x=x1 - 3 if anchor == "end" else x1 + 3,
                label_y=top_pad - 4 if lane is None else TOP + LANE * lane + 8,
                anchor=anchor,
                span=_span_text(marker),
            )
        )
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


def _lanes(markers: Sequence[Marker], start: datetime, span: float) -> list[int | None]:
    """A lane for each marker's label so that labels in one lane never overlap; a marker
    that finds no free lane among `MAX_LANES` gets no label on the chart (None): its band is
    still drawn, and every marker is listed in full under the chart."""
    plot = WIDTH - RIGHT - LEFT
    ends: list[float] = []  # per lane, where its last label ends
    chosen: list[int | None] = []
    for marker in markers:
        x = LEFT + plot * max((marker.at - start).total_seconds(), 0.0) / span
        width = LABEL_CHAR * len(marker.short or marker.label) + 8
        left_edge = x - width if x > WIDTH - RIGHT - 60 else x
        lane = next((i for i, e in enumerate(ends) if left_edge > e), len(ends))
        if lane >= MAX_LANES:
            chosen.append(None)
            continue
        if lane == len(ends):
            ends.append(left_edge + width)
        else:
            ends[lane] = left_edge + width
        chosen.append(lane)
    return chosen


def _span_text(marker: Marker) -> str:
    first = marker.at.strftime("%d %b %H:%M")
    if marker.until is None or marker.until - marker.at < timedelta(minutes=1):
        return first
    same_day = marker.until.date() == marker.at.date()
    return f"{first} to {marker.until.strftime('%H:%M' if same_day else '%d %b %H:%M')}"
