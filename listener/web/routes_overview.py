"""The overview: mention volume per brand, the dissatisfied share, incidents on the time axis."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from listener.store import DraftFilter
from listener.web import incident_data
from listener.web.charts import Marker, Series, line_chart, zero_filled
from listener.web.deps import Viewer, get_desk
from listener.web.pages import NavLink, render

router = APIRouter()
NAV = [NavLink("Overview", "/overview")]

# Period shown -> bucket size: about 24 to 60 points per line, readable at a glance.
PERIODS = {"1d": (timedelta(days=1), 3600), "7d": (timedelta(days=7), 6 * 3600)}
PERIODS["30d"] = (timedelta(days=30), 86400)


@router.get("/overview")
def overview_page(request: Request, user: Viewer, period: str = "7d") -> Response:
    desk = get_desk(request)
    period = period if period in PERIODS else "7d"
    length, bucket = PERIODS[period]
    now = desk.listener.clock.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - length
    points = desk.listener.store.desk.volume(since=start, until=end, bucket_seconds=bucket)
    pending = desk.listener.store.desk.count_drafts(DraftFilter(status="pending"))
    volume: dict[str, list[tuple[object, float]]] = defaultdict(list)
    share: dict[str, list[tuple[object, float]]] = defaultdict(list)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in points:
        volume[p.brand].append((p.start, float(p.total)))
        if p.total:
            share[p.brand].append((p.start, p.dissatisfied / p.total))
        totals[p.brand][0] += p.total
        totals[p.brand][1] += p.dissatisfied
    markers = [
        Marker(m.at, m.label, m.href, until=m.until, short=m.short)
        for m in incident_data.markers(desk.listener, since=start, until=end)
    ]
    charts = [
        line_chart(
            f"Mentions per {'hour' if bucket == 3600 else 'day' if bucket == 86400 else '6 hours'}",
            [
                Series(b, zero_filled(volume[b], start, end, bucket))  # type: ignore[arg-type]
                for b in sorted(volume)
            ],
            start=start,
            end=end,
            markers=markers,
        ),
        line_chart(
            "Share of dissatisfied mentions",
            [Series(b, share[b]) for b in sorted(share)],  # type: ignore[arg-type]
            start=start,
            end=end,
            markers=markers,
            y_max=1.0,
            y_format=lambda v: f"{v * 100:.0f}%",
        ),
    ]
    summary = [
        {"brand": b, "total": t[0], "share": (t[1] / t[0]) if t[0] else 0.0}
        for b, t in sorted(totals.items())
    ]
    return render(
        request,
        "overview.html",
        {
            "charts": charts,
            "summary": summary,
            "period": period,
            "periods": list(PERIODS),
            "pending": pending,
            "incidents_available": incident_data.available(),
        },
    )
