"""Chart layout at every size: one point, no data, several incidents, round ticks, edges."""

from datetime import UTC, datetime, timedelta

import pytest

from listener.web.charts import LEFT, RIGHT, WIDTH, Marker, Series, line_chart, y_scale

START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
END = START + timedelta(days=7)


@pytest.mark.parametrize(
    ("highest", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (50, [0, 20, 40, 60]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_y_ticks_are_distinct_whole_round_numbers(highest: float, ticks: list[float]) -> None:
    top, values = y_scale(highest)
    assert values == ticks and top == ticks[-1]
    chart = line_chart("c", [Series("O2", [(START, float(highest))])], start=START, end=END)
    labels = [t.label for t in chart.y_ticks]
    assert len(set(labels)) == len(labels)


def test_a_single_point_is_drawn_as_a_dot() -> None:
    chart = line_chart(
        "c", [Series("O2", [(START + timedelta(days=3), 4.0)])], start=START, end=END
    )
    assert not chart.empty and len(chart.series[0].dots) == 1


def test_no_data_says_so_with_a_plain_axis() -> None:
    chart = line_chart("c", [], start=START, end=END)
    assert chart.empty and [t.label for t in chart.y_ticks] == ["0", "1"]


def test_labels_at_the_edges_run_inwards() -> None:
    chart = line_chart("c", [], start=START, end=END)
    last = chart.x_ticks[-1]
    assert last.position > WIDTH - RIGHT - 24 and last.anchor == "end"
    assert all(t.anchor != "middle" for t in chart.x_ticks if t.position < LEFT + 24)


def test_many_incidents_on_one_day_are_stacked_never_overprinted() -> None:
    day = START + timedelta(days=4, hours=9)
    markers = [
        Marker(
            day + timedelta(minutes=7 * i), f"#{i} O2: something", f"/incidents/{i}", short=f"#{i}"
        )
        for i in range(8)
    ]
    chart = line_chart("c", [], start=START, end=END, markers=markers)
    labelled = [m for m in chart.markers if m.short]
    assert len(chart.markers) == 8 and 1 < len(labelled) < 8
    assert len({m.label_y for m in labelled}) == len(labelled)  # one lane each
    assert chart.top > 14  # the plot moved down to make room for the lanes


def test_an_incident_is_placed_over_its_mentions_not_its_opening() -> None:
    first = START + timedelta(days=1)
    last = START + timedelta(days=2)
    chart = line_chart("c", [], start=START, end=END, markers=[Marker(first, "#1", until=last)])
    (band,) = chart.markers
    per_day = (WIDTH - RIGHT - LEFT) / 7
    assert band.x == pytest.approx(LEFT + per_day)
    assert band.width == pytest.approx(per_day)
    assert band.span == "17 Nov 00:00 to 18 Nov 00:00"


def test_quiet_buckets_count_as_zero_instead_of_a_sloping_line() -> None:
    from listener.web.charts import zero_filled

    start = START + timedelta(minutes=30)  # buckets start on the whole hour after it
    points = [(START + timedelta(hours=2), 5.0)]
    filled = zero_filled(points, start, START + timedelta(hours=4), 3600)
    assert filled == [
        (START + timedelta(hours=1), 0.0),
        (START + timedelta(hours=2), 5.0),
        (START + timedelta(hours=3), 0.0),
    ]
