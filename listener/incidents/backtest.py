"""Backtests beyond a file: generated scenarios, and the NAB tweet-volume series.

- `scenario_backtest` writes a generated scenario (`listener.incidents.scenarios`) to a
  temporary file and backtests it like any file (`listener.incidents.replay.backtest`), with the
  scenario's brands, then says for each story whether it met what a responder expects.
- `nab_backtest` replays the NAB realTweets counts (five-minute tweet counts of ten companies
  over 55 days, with labelled anomaly windows) through the detector itself, one observation
  per counted tweet. The series carry no text, so every tweet counts as a concerning mention:
  the volume rule's worst case for false alarms. An incident opened inside a labelled window
  is a detection (its lead is how long before the labelled moment it opened); one opened
  outside every window is a false alarm.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.errors import SettingsError
from listener.incidents import scenarios
from listener.incidents.detector import ActiveIncident, BrandState, DetectionRules, Detector
from listener.incidents.model import Observation
from listener.settings import BrandSettings, Settings

# A story is found when an incident opens within this long of its first post.
ON_TIME = timedelta(minutes=10)


def scenario_settings(settings: Settings, name: str) -> Settings:
    """The settings with the scenario's brands in place of the configured ones."""
    brands = [BrandSettings(name=b, terms=[b]) for b in scenarios.BRANDS[name]]
    return settings.model_copy(update={"brands": brands})


def scenario_backtest(settings: Settings, name: str, seed: int = 7) -> dict[str, Any]:
    """Backtest a generated scenario; adds `expected` (per story: on time, count, type)."""
    from listener.incidents.replay import backtest

    if name not in scenarios.SCENARIOS:
        raise SettingsError(
            f"unknown scenario {name!r}: choose one of {', '.join(scenarios.SCENARIOS)}"
        )
    with tempfile.TemporaryDirectory(prefix="listener-scenario-") as tmp:
        path = Path(tmp) / f"{name}.jsonl"
        scenarios.write(name, path, seed)
        result = backtest(scenario_settings(settings, name), path, "jsonl")
    result["scenario"] = {"name": name, "seed": seed}
    result["expected"] = judge_stories(result, scenarios.STORIES[name])
    return result


def judge_stories(result: dict[str, Any], stories: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Per story: one incident (at most two), opened within `ON_TIME`, of the right type."""
    verdicts: dict[str, Any] = {}
    for label, (brand, kind) in stories.items():
        story = result["stories"].get(label) or {}
        delay = story.get("delay_seconds")
        count = len(story.get("incidents", []))
        verdicts[label] = {
            "brand": brand,
            "type": kind,
            "incidents": count,
            "on_time": delay is not None and delay <= ON_TIME.total_seconds(),
            "type_matches": story.get("types", [])[:1] == [kind],
            "ok": 1 <= count <= 2
            and delay is not None
            and delay <= ON_TIME.total_seconds()
            and kind in story.get("types", []),
        }
    return verdicts


# NAB -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NabSeries:
    company: str
    counts: list[tuple[datetime, int]]
    windows: list[tuple[datetime, datetime]]
    labels: list[datetime]


def _nab_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)


def nab_series(directory: Path, companies: list[str] | None = None) -> list[NabSeries]:
    """The series in a NAB realTweets folder (`Twitter_volume_<X>.csv`, windows, labels)."""
    windows_file = directory / "windows.json"
    labels_file = directory / "labels.json"
    if not windows_file.is_file() or not labels_file.is_file():
        raise SettingsError(
            f"{directory} is not a NAB tweet-volume folder (windows.json and labels.json missing)"
        )
    windows = json.loads(windows_file.read_text(encoding="utf-8"))
    labels = json.loads(labels_file.read_text(encoding="utf-8"))
    out = []
    for path in sorted(directory.glob("Twitter_volume_*.csv")):
        company = path.stem.removeprefix("Twitter_volume_")
        if companies and company not in companies:
            continue
        with path.open(encoding="utf-8") as handle:
            counts = [
                (_nab_time(r["timestamp"]), int(float(r["value"]))) for r in csv.DictReader(handle)
            ]
        out.append(
            NabSeries(
                company,
                counts,
                [(_nab_time(a), _nab_time(b)) for a, b in windows.get(path.name, [])],
                [_nab_time(t) for t in labels.get(path.name, [])],
            )
        )
    if not out:
        raise SettingsError(f"no Twitter_volume_*.csv series in {directory} for {companies}")
    return out


def _observations(series: NabSeries, seed: int) -> Iterator[Observation]:
    """One concerning observation per counted tweet, spread evenly over its five minutes."""
    rng = random.Random(seed)
    n = 0
    for start, count in series.counts:
        for i in range(count):
            n += 1
            at = start + timedelta(seconds=300 * (i + rng.random()) / count)
            yield Observation(
                mention_id=n,
                brand=series.company,
                at=at,
                source="nab",
                source_kind="x",
                author=f"a{n}",
                followers=0,
                verified=False,
                news=False,
                url="",
                story_key="",
                title="",
                text="",
                category="complaint",
                dissatisfied=True,
                risk=0.0,
                words=frozenset(),
                reach_known=False,
            )


def nab_backtest(
    directory: Path, rules: DetectionRules, companies: list[str] | None = None, seed: int = 7
) -> dict[str, Any]:
    """Run the detector over each NAB series; detections per window, false alarms per week."""
    detector = Detector(rules)
    report: dict[str, Any] = {}
    for series in nab_series(directory, companies):
        state = BrandState()
        incidents: list[ActiveIncident] = []
        batch: list[Observation] = []
        opened: list[datetime] = []
        for obs in _observations(series, seed):
            if batch and obs.at - batch[0].at >= timedelta(minutes=1):
                opened += [
                    i.opened_at for i in detector.process(state, incidents, batch, batch[-1].at)
                ]
                # Incidents go quiet as the tracker resolves them: drop the ones idle too long.
                incidents[:] = [
                    i for i in incidents if batch[-1].at - i.profile.last_at < timedelta(hours=6)
                ]
                batch = []
            batch.append(obs)
        if batch:
            opened += [i.opened_at for i in detector.process(state, incidents, batch, batch[-1].at)]
        report[series.company] = _nab_figures(series, opened)
    return {"series": report, "totals": _nab_totals(report)}


def _nab_figures(series: NabSeries, opened: list[datetime]) -> dict[str, Any]:
    first, last = series.counts[0][0], series.counts[-1][0]
    weeks = max(1.0, (last - first).total_seconds() / (7 * 86400))
    found = []
    for start, end in series.windows:
        label = next((t for t in series.labels if start <= t <= end), start)
        inside = [t for t in opened if start <= t <= end]
        found.append(
            {
                "window": [start.isoformat(), end.isoformat()],
                "label": label.isoformat(),
                "detected_at": inside[0].isoformat() if inside else None,
                "lead_minutes": round((label - inside[0]).total_seconds() / 60, 1)
                if inside
                else None,
            }
        )
    false = [t for t in opened if not any(a <= t <= b for a, b in series.windows)]
    return {
        "incidents": len(opened),
        "windows": found,
        "detected": sum(1 for f in found if f["detected_at"]),
        "false_alarms": len(false),
        "false_alarms_per_week": round(len(false) / weeks, 3),
        # When each false alarm opened, in days since the series' first bucket: whether they
        # bunch while the brand is young or come at any time.
        "false_alarm_times": [round((t - first).total_seconds() / 86400, 2) for t in false],
        "weeks": round(weeks, 2),
    }


def _nab_totals(report: dict[str, Any]) -> dict[str, Any]:
    weeks = sum(r["weeks"] for r in report.values())
    false = sum(r["false_alarms"] for r in report.values())
    return {
        "windows": sum(len(r["windows"]) for r in report.values()),
        "detected": sum(r["detected"] for r in report.values()),
        "false_alarms": false,
        "false_alarms_per_brand_week": round(false / weeks, 3) if weeks else 0.0,
    }
