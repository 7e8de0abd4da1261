"""Replays made in code: brands with daily and weekly rhythms, and stories over them.

Each scenario is generated from a seed, so the same name and seed always give the same lines
(JSON objects as `listener import` reads them). Story lines carry `"incident": "<story>"`, the
ground truth `listener backtest` measures against; everything else is calm traffic, on which
no incident should open.

- `calm-month`: four weeks of five mobile networks, a plumbing company and a games studio:
  quiet nights, busier days, quieter weekends, four in ten posts grumbles ("my data is so
  slow", "feeling down", "boiler still leaking", "game keeps crashing"), some retweets, a
  flood of one post copied through several apps, a few big accounts.
- `storm`: a week of an airline's ordinary traffic, then a customer dragged off a flight on
  video: outrage, boycott calls, a CEO statement, a lawsuit, memes, over five hours; the words
  change as it spreads.
- `two-stories`: a week of a mobile network's traffic, then an outage and, twenty minutes into
  it, an unrelated leak of customers' details.

    listener backtest --scenario storm         # or write one: --write-scenario storm FILE
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from listener.errors import SettingsError

START = datetime(2026, 2, 2, 0, 0, tzinfo=UTC)  # a Monday
# Relative rate by hour of day of ordinary traffic (UK brands, UTC).
_DAY = (
    0.2, 0.12, 0.1, 0.1, 0.1, 0.15, 0.35, 0.7, 1.0, 1.15, 1.2, 1.2,
    1.25, 1.25, 1.2, 1.2, 1.2, 1.25, 1.3, 1.3, 1.2, 1.0, 0.7, 0.4,
)  # fmt: skip
_WEEKEND = 0.7

_MOBILE_NEUTRAL = [
    "Loving the new {b} plan, signal is great in town",
    "Does {b} do eSIM for the new phones?",
    "{b} sorted my upgrade in five minutes, nice",
    "Switched to {b} last week, all good so far",
    "is {b} coverage okay in Cornwall? going on holiday",
    "{b} app shows my data allowance nicely",
    "Got the {b} unlimited data deal, streaming all the way home",
    "{b} roaming in Spain worked fine",
]
_MOBILE_GRUMBLES = [
    "{b} my data is so slow today, can't even load a map",
    "feeling down today and {b} signal keeps dropping, great",
    "{b} signal is rubbish at my house again",
    "{b} customer service kept me on hold for an hour",
    "why is my {b} data so slow in the evenings",
    "{b} mobile data keeps cutting out on the train, annoying",
    "{b} bill went up again, not impressed",
    "{b} shop couldn't help with my broken phone, useless",
    "down to my last 1GB of data already, {b} why so expensive",
]
_PLUMBING_NEUTRAL = [
    "{b} fixed the leak under the sink in an hour, brilliant",
    "Water leak emergency, {b} came out at midnight, lifesavers",
    "{b} engineer sorted our leaking radiator, very tidy",
    "Booked {b} for a boiler service next week",
    "{b} quoted fairly for the new bathroom",
]
_PLUMBING_GRUMBLES = [
    "{b} engineer was late and the boiler is still leaking, annoying",
    "the tap {b} fixed is leaking again, not happy",
    "{b} left a mess after fixing the pipe leak",
    "waiting all day for {b} to fix the toilet leak, no show",
    "{b} charged a fortune for a leaky pipe, hmm",
]
_GAMES_NEUTRAL = [
    "{b} new season is so good",
    "Finally beat the boss in the {b} game",
    "{b} devs listening to feedback, love it",
    "streaming the new {b} release tonight",
    "{b} soundtrack is incredible",
]
_GAMES_GRUMBLES = [
    "{b} game keeps crashing after the patch, ugh",
    "crash on startup again in the {b} game, please fix",
    "{b} matchmaking takes forever tonight",
    "my save got corrupted after a crash in the {b} game, gutted",
    "{b} lag is unbearable this evening",
]
_AIRLINE_NEUTRAL = [
    "{b} flight to Lisbon on time, friendly crew",
    "Booked {b} for the summer, fingers crossed",
    "{b} lounge in Manchester is pretty decent",
    "Does {b} allow two cabin bags?",
    "Smooth landing with {b} this morning",
]
_AIRLINE_GRUMBLES = [
    "{b} delayed 40 minutes, not the end of the world but annoying",
    "{b} lost my bag again, useless",
    "{b} seat was broken and crew didn't care",
    "{b} app won't let me check in, frustrating",
    "{b} food was awful on the way back",
]

_STORM_PHASES: list[tuple[int, list[str]]] = [
    (
        0,
        [
            "Horrifying video: {b} security dragged a passenger off the plane, he is bleeding",
            "{b} staff dragged a man off an overbooked flight, watch this disgusting video",
            "Passenger forcibly removed from {b} flight, people screaming, this is appalling",
            "Why did {b} security drag that passenger off the plane?? shameful treatment",
        ],
    ),
    (
        40,
        [
            "#BoycottSkyline after what {b} did to that passenger, never flying again",
            "boycott {b}, treating customers like this is disgusting",
            "Never flying {b} again after watching that video of the passenger dragged off",
            "{b} mistreated a paying customer and thinks it is fine, boycott them",
        ],
    ),
    (
        110,
        [
            "The {b} CEO statement about 're-accommodating' the passenger is shameful",
            "{b} CEO blames the passenger he had dragged off, unbelievable arrogance",
            "That {b} apology is an insult, how they treated him was brutal",
            "{b} chief executive defends staff who dragged a customer off, disgraceful",
        ],
    ),
    (
        190,
        [
            "The passenger is suing {b} after being dragged off the flight, good",
            "Lawyers say {b} faces a lawsuit over the passenger who was dragged off",
            "{b} new slogan: we beat the competition and the passengers lol awful",
            "{b} memes everywhere after the dragged passenger video, deserved",
        ],
    ),
]
_OUTAGE = [
    "{b} is down, no signal anywhere in Leeds",
    "{b} outage again? can't make calls at all",
    "is {b} down for everyone? no service since 2pm",
    "{b} network down, can't connect to anything, useless",
    "no signal, no data, {b} completely down in Manchester",
]
_LEAK = [
    "{b} leaked my personal details, my bank details are online",
    "{b} data breach: customer data exposed online, how is this allowed",
    "Just got an email from {b} saying our personal information was exposed in a breach",
    "{b} customers' home addresses and phone numbers leaked, disgraceful",
    "{b} hacked, passwords stolen, change yours now",
]


@dataclass(frozen=True, slots=True)
class _Brand:
    name: str
    per_hour: float  # daytime mentions per hour at the busiest hours
    neutral: Sequence[str]
    grumbles: Sequence[str]
    grumble_share: float = 0.4


_MOBILES = [
    _Brand(name, rate, _MOBILE_NEUTRAL, _MOBILE_GRUMBLES)
    for name, rate in (
        ("Voxa", 6.0),
        ("Teleon", 5.0),
        ("Brightline Mobile", 7.0),
        ("Nimbus", 4.0),
        ("Carraway", 6.0),
    )
]
_PLUMBER = _Brand("Kingsflow", 4.0, _PLUMBING_NEUTRAL, _PLUMBING_GRUMBLES, 0.45)
_GAMES = _Brand("Mirthforge", 8.0, _GAMES_NEUTRAL, _GAMES_GRUMBLES, 0.45)
_AIRLINE = _Brand("Skyline Air", 14.0, _AIRLINE_NEUTRAL, _AIRLINE_GRUMBLES, 0.35)

SCENARIOS = ("calm-month", "storm", "two-stories")
# The brands of each scenario, as `[[brands]]` settings need them.
BRANDS = {
    "calm-month": [b.name for b in [*_MOBILES, _PLUMBER, _GAMES]],
    "storm": [_AIRLINE.name],
    "two-stories": [_MOBILES[0].name],
}
# What each story is, as a backtest's expectations: label -> (brand, type).
STORIES = {
    "storm": {"skyline-passenger-dragged": ("Skyline Air", "customer treatment/conduct")},
    "two-stories": {
        "voxa-outage": ("Voxa", "outage/service down"),
        "voxa-leak": ("Voxa", "privacy/data breach"),
    },
    "calm-month": {},
}


# People say the same thing in their own words: openers and closers around a core phrase, so
# two posts of a crowd are rarely the same text (copies are retweets, made as such).
_OPENERS = [
    "",
    "",
    "wow",
    "honestly",
    "unbelievable.",
    "just saw this:",
    "omg",
    "so",
    "right,",
    "ok so",
    "can't believe it,",
    "again?",
    "seriously",
    "well",
    "ugh",
    "lol",
]
_CLOSERS = [
    "",
    "",
    "",
    "never again",
    "so angry",
    "shame on you",
    "!!",
    "this is not ok",
    "smh",
    "what a joke",
    "#fail",
    "come on",
    "really",
    "tell me why",
    "not good enough",
    "sigh",
    "today of all days",
    "every single time",
    "is anyone else seeing this",
    "just wow",
]


_CALM_OPENERS = ["", "", "", "so", "right,", "ok", "hey", "btw", "fyi", "question:", "update:"]
_CALM_CLOSERS = [
    "",
    "",
    "",
    "thanks",
    "cheers",
    "anyone?",
    "just saying",
    "fair enough",
    "we'll see",
    "as usual",
    "on the way home",
    "this morning",
    "tonight",
    "x",
    "haha",
]


def _say(rng: random.Random, phrase: str, upset: bool = True) -> str:
    openers, closers = (_OPENERS, _CLOSERS) if upset else (_CALM_OPENERS, _CALM_CLOSERS)
    return " ".join(p for p in (rng.choice(openers), phrase, rng.choice(closers)) if p)


class _Writer:
    def __init__(self, seed: int, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.n = 0
        self.lines: list[dict[str, Any]] = []

    def post(
        self,
        brand: str,
        at: datetime,
        text: str,
        *,
        label: str = "",
        author: str | None = None,
        followers: int | None = -1,
        source: str = "x",
    ) -> dict[str, Any]:
        self.n += 1
        rng = self.rng
        if followers == -1:
            followers = _followers(rng)
        line: dict[str, Any] = {
            "source": source,
            "source_kind": "x" if source == "x" else source,
            "external_id": f"{self.prefix}-{self.n}",
            "text": text,
            "author": author or f"user{rng.randint(1, 400_000)}",
            "published_at": at.isoformat(),
        }
        if followers is not None:
            line["author_followers"] = followers
        if label:
            line["incident"] = label
        self.lines.append(line)
        return line


def _followers(rng: random.Random) -> int | None:
    roll = rng.random()
    if roll < 0.1:
        return None  # the source did not say
    if roll < 0.12:
        return rng.randint(100_000, 2_000_000)
    return int(math.exp(rng.gauss(5.5, 1.6)))


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: means here are small (a few per hour).
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _calm(w: _Writer, brand: _Brand, start: datetime, days: int) -> None:
    rng = w.rng
    for hour in range(days * 24):
        moment = start + timedelta(hours=hour)
        rate = brand.per_hour * _DAY[moment.hour] / 1.3
        if moment.weekday() >= 5:
            rate *= _WEEKEND
        for _ in range(_poisson(rng, rate)):
            at = moment + timedelta(seconds=rng.uniform(0, 3600))
            upset = rng.random() < brand.grumble_share
            pool = brand.grumbles if upset else brand.neutral
            line = w.post(brand.name, at, _say(rng, rng.choice(pool).format(b=brand.name), upset))
            if rng.random() < 0.05:
                # A few retweets of it over the next hour.
                for _ in range(rng.randint(1, 4)):
                    w.post(
                        brand.name,
                        at + timedelta(seconds=rng.uniform(30, 3600)),
                        f"RT @{line['author']}: {line['text']}",
                    )


def _flood(w: _Writer, brand: str, at: datetime, text: str, copies: int) -> None:
    """One post copied through several apps (each adds its own link), within ten minutes."""
    rng = w.rng
    author = f"user{rng.randint(1, 400_000)}"
    for i in range(copies):
        w.post(
            brand,
            at + timedelta(seconds=rng.uniform(0, 600)),
            f"{text} https://app{i % 7}.example/p/{rng.randint(1, 10**9)}",
            author=author,
            followers=300,
        )


def _story(
    w: _Writer,
    brand: str,
    start: datetime,
    minutes: int,
    label: str,
    texts: Sequence[tuple[int, Sequence[str]]],
    per_minute: Sequence[tuple[int, float]],
) -> None:
    """A story: posts at a rate that grows by phase, words that change by phase."""
    rng = w.rng
    for minute in range(minutes):
        rate = [r for m, r in per_minute if m <= minute][-1]
        phrases = [t for m, t in texts if m <= minute][-1]
        for _ in range(_poisson(rng, rate)):
            at = start + timedelta(minutes=minute, seconds=rng.uniform(0, 60))
            line = w.post(brand, at, _say(rng, rng.choice(phrases).format(b=brand)), label=label)
            if rng.random() < 0.15:
                w.post(
                    brand,
                    at + timedelta(seconds=rng.uniform(5, 600)),
                    f"RT @{line['author']}: {line['text']}",
                    label=label,
                )


def generate(name: str, seed: int = 7) -> list[dict[str, Any]]:
    """The scenario's lines in time order (SettingsError for an unknown name)."""
    w = _Writer(seed, name)
    if name == "calm-month":
        for brand in [*_MOBILES, _PLUMBER, _GAMES]:
            _calm(w, brand, START, 28)
        _flood(w, "Teleon", START + timedelta(days=9, hours=13), "Teleon ruined my day again", 40)
        _flood(w, "Kingsflow", START + timedelta(days=16, hours=10), "Kingsflow pipe leak", 30)
    elif name == "storm":
        _calm(w, _AIRLINE, START, 8)
        begin = START + timedelta(days=7, hours=15)
        _story(
            w,
            _AIRLINE.name,
            begin,
            300,
            "skyline-passenger-dragged",
            _STORM_PHASES,
            [(0, 0.8), (10, 3.0), (40, 8.0), (110, 12.0), (190, 6.0)],
        )
    elif name == "two-stories":
        voxa = _MOBILES[0]
        _calm(w, voxa, START, 8)
        begin = START + timedelta(days=7, hours=14)
        _story(w, voxa.name, begin, 120, "voxa-outage", [(0, _OUTAGE)], [(0, 2.0), (15, 5.0)])
        _story(
            w,
            voxa.name,
            begin + timedelta(minutes=20),
            120,
            "voxa-leak",
            [(0, _LEAK)],
            [(0, 1.0), (10, 3.0)],
        )
    else:
        raise SettingsError(f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    return sorted(w.lines, key=lambda line: (line["published_at"], line["external_id"]))


def lines_as_jsonl(lines: Sequence[dict[str, Any]]) -> Iterator[str]:
    for line in lines:
        yield json.dumps(line, ensure_ascii=False) + "\n"


def write(name: str, path: Path, seed: int = 7) -> int:
    """Write the scenario as JSONL; returns the number of lines."""
    lines = generate(name, seed)
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(lines_as_jsonl(lines))
    return len(lines)
