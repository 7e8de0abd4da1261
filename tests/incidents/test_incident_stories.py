"""Story-level incidents, pure: copies count once, a burst is one story, the story's record."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from listener.alerts.message import plain_text
from listener.incidents.detector import (
    ActiveIncident,
    BrandState,
    DetectionRules,
    Detector,
)
from listener.incidents.model import IncidentProfile, Observation, cues_of, summary, title
from listener.incidents.terms import fingerprint, tokens

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000_000))


def post(
    at: datetime,
    text: str,
    *,
    upset: bool = False,
    author: str = "",
    followers: int | None = 150,
) -> Observation:
    i = next(_ids)
    author = author or f"user{i}"
    return Observation(
        mention_id=i,
        brand="Voxa",
        at=at,
        source="x",
        source_kind="x",
        author=author,
        followers=followers or 0,
        verified=False,
        news=False,
        url="",
        story_key="",
        title="",
        text=text,
        category="complaint" if upset else "other",
        dissatisfied=upset,
        risk=0.3 if upset else 0.05,
        words=tokens(text, frozenset({"voxa"})),
        cues=cues_of(text) if upset else (),
        reach_known=followers is not None,
        fingerprint=fingerprint(text, author),
    )


def calm_day(start: datetime, hours: int = 30) -> list[Observation]:
    rng = random.Random(5)
    texts = ["new phone from Voxa arrived", "Voxa shop in town was helpful", "Voxa plan renewed"]
    out = []
    for minute in range(0, hours * 60, 6):
        out.append(post(start + timedelta(minutes=minute), f"{rng.choice(texts)} {minute}"))
    return out


def run(detector: Detector, state: BrandState, items: list[Observation]) -> list[ActiveIncident]:
    incidents: list[ActiveIncident] = []
    for n, item in enumerate(sorted(items, key=lambda o: o.at), start=state.max_mention_id + 1):
        detector.process(state, incidents, [replace(item, mention_id=n)], item.at)
    return incidents


COMPLAINTS = [
    "Voxa is down for everyone, no service since lunch",
    "no signal at all, Voxa network completely down in Leeds",
    "Voxa outage again? can't make calls",
    "is the Voxa network down? nothing works",
    "Voxa app is down and the helpline rings out",
]


def test_copies_of_one_post_count_once_towards_a_spike() -> None:
    start = T0 + timedelta(hours=30)
    text = "Voxa is down for everyone, no service since lunch"
    copies = [
        post(start + timedelta(seconds=10 * i), f"RT @angry_customer: {text}", upset=True)
        for i in range(40)
    ]
    relinked = [
        post(
            start + timedelta(seconds=10 * i + 5),
            f"{text} https://app{i}.example/p/{i}",
            upset=True,
            author="angry_customer",
        )
        for i in range(40)
    ]
    assert run(Detector(DetectionRules()), BrandState(), [*calm_day(T0), *copies, *relinked]) == []

    # The same number of people saying it in their own words is a story.
    rng = random.Random(1)
    crowd = [
        post(
            start + timedelta(seconds=10 * i),
            f"{rng.choice(COMPLAINTS)} {rng.choice(['ugh', 'seriously', 'again', ''])} #{i}",
            upset=True,
        )
        for i in range(80)
    ]
    [incident] = run(Detector(DetectionRules()), BrandState(), [*calm_day(T0), *crowd])
    assert incident.profile.type.value == "outage/service down"


def test_a_burst_is_one_story_even_when_its_words_change_and_it_ends_with_the_burst() -> None:
    start = T0 + timedelta(hours=30)
    phases = [
        "security dragged a passenger off the Voxa flight, shameful",
        "boycott Voxa after that video, never again",
        "the Voxa ceo statement is a disgrace",
        "lawyers are suing Voxa over it",
    ]
    rng = random.Random(2)
    # People say it in their own words (identical texts would be copies, counted once).
    asides = [
        "wow",
        "ugh",
        "omg",
        "smh",
        "honestly",
        "unreal",
        "shocking",
        "awful",
        "grim",
        "appalling",
        "sad",
        "angry",
    ]
    storm = [
        post(
            start + timedelta(seconds=15 * i),
            f"{rng.choice(asides)} {phases[min(3, i // 60)]} {' '.join(rng.sample(asides, 2))}",
            upset=True,
        )
        for i in range(240)
    ]
    detector = Detector(DetectionRules())
    state = BrandState()
    incidents = run(detector, state, [*calm_day(T0), *storm])
    assert len(incidents) == 1
    profile = incidents[0].profile
    assert profile.mention_count >= 230
    assert incidents[0].opened_at - start <= timedelta(minutes=10)
    assert profile.type.value == "customer treatment/conduct"
    whats = [g["what"] for g in profile.growth]
    assert whats[0] == "opened" and "100 mentions" in whats
    assert any(g.get("new_themes") for g in profile.growth[1:])

    # Hours later, an ordinary grumble is not pulled into the old story.
    later = post(start + timedelta(hours=5), "Voxa bill is wrong this month", upset=True)
    more = run(detector, state, [later])
    assert more == [] and profile.mention_count == len(incidents[0].joined)


LEAK = [
    "Voxa leaked customers phone numbers in a data breach",
    "data breach at Voxa, my phone number leaked online",
    "Voxa phone numbers leaked, data breach confirmed?",
    "my number was in the Voxa data breach, leaked everywhere",
]
ASIDES = ["wow", "ugh", "omg", "smh", "honestly", "unreal", "shocking", "awful", "grim", "sad"]


def test_the_burst_that_opens_a_story_is_in_it_and_a_different_story_at_once_is_not() -> None:
    """A spike's pooled posts join the incident it opens, even one sharing no word with the
    post that opened it (its author's replies are held with the rest); a post plainly about
    another kind of trouble stays out, for its own incident."""
    start = T0 + timedelta(hours=30)
    # People say it in their own words (identical texts would be copies, counted once).
    leak = [
        post(
            start + timedelta(seconds=12 * i),
            f"{LEAK[i % 4]} {ASIDES[i % 10]} {ASIDES[(3 * i + 1) % 10]}",
            upset=True,
        )
        for i in range(40)
    ]
    # One of the first to complain, in words no other post of the story uses.
    early = post(
        start + timedelta(seconds=20), "how could you let this happen, furious", upset=True
    )
    # An outage reported in the same minutes: its first post is pooled when the leak opens.
    outage = [
        post(
            start + timedelta(seconds=25 + 30 * i),
            f"{COMPLAINTS[i % 5]} {ASIDES[(7 * i + 3) % 10]} {ASIDES[(i + 2) % 10]}",
            upset=True,
        )
        for i in range(30)
    ]
    items = [*calm_day(T0), *leak, early, *outage]
    ids = {(o.at, o.text): n for n, o in enumerate(sorted(items, key=lambda o: o.at), start=1)}

    def members(batch: list[Observation]) -> set[int]:
        return {ids[(o.at, o.text)] for o in batch}

    incidents = run(Detector(DetectionRules()), BrandState(), items)
    by_type = {i.profile.type.value: set(i.joined) for i in incidents}
    assert sorted(by_type) == ["outage/service down", "privacy/data breach"]
    assert by_type["privacy/data breach"] == members([*leak, early])
    assert by_type["outage/service down"] == members(outage)


def test_the_state_with_copies_and_bursts_survives_json() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    start = T0 + timedelta(hours=30)
    items = [
        *calm_day(T0),
        *[post(start + timedelta(seconds=9 * i), COMPLAINTS[i % 5], upset=True) for i in range(9)],
    ]
    run(detector, state, items)
    assert state.prints and state.burst_now + sum(state.burst) > 0
    again = BrandState.from_json(state.as_json())
    assert again.as_json() == state.as_json()
    assert [o.cues for o in again.pool] == [o.cues for o in state.pool]


def test_a_story_reads_as_a_person_would_write_it() -> None:
    profile = IncidentProfile.starting_with(
        post(T0, "Voxa leaked my personal details, bank details online pic.twitter.com/x1 "
             "https://twitter.com/a/status/1", upset=True, followers=None, author="quiet"),
        0.6,
    )  # fmt: skip
    for i in range(12):
        profile.add(
            post(
                T0 + timedelta(minutes=i),
                f"Voxa data breach, customer data exposed {i}",
                upset=True,
                author=f"loud{i}",
                followers=250_000 + i,
            ),
            0.6,
        )
    assert title(profile).startswith("Data breach at Voxa: ")
    for noise in ("twitter", "pic", "status", "https"):
        assert noise not in profile.themes(10)
    assert " 0 followers" not in summary(profile)
    assert {"author": "quiet", "followers": None, "reach_known": False} in profile.top_authors(20)


def test_the_alert_says_what_it_is_who_amplifies_and_where_the_timeline_is() -> None:
    body = {
        "kind": "incident.opened",
        "incident_id": 7,
        "brand": "Voxa",
        "type": "privacy/data breach",
        "type_label": "Data breach",
        "what_it_is": "People say customers' personal data was leaked, exposed or misused.",
        "mention_count": 40,
        "first_mention_at": "2026-03-02T10:00:00+00:00",
        "opened_at": "2026-03-02T10:04:00+00:00",
        "top_authors": [
            {"author": "techreporter", "followers": 1_200_000, "reach_known": True},
            {"author": "rss-blog", "followers": None, "reach_known": False},
        ],
        "growth": [
            {
                "at": "2026-03-02T10:04:00+00:00",
                "what": "opened",
                "mentions": 12,
                "severity": "medium",
                "themes": ["leaked", "details"],
            }
        ],
        "url": "https://desk.example/incidents/7",
    }
    text = plain_text(body, "Data breach at Voxa: leaked, details", "medium")
    assert text.startswith("[MEDIUM] New incident: Data breach at Voxa: leaked, details")
    assert "Data breach: People say customers' personal data was leaked" in text
    assert "techreporter (1,200,000 followers), rss-blog (reach unknown)" in text
    assert "2026-03-02 10:04 opened: 12 mention(s), medium (leaked, details)" in text
    assert text.endswith("Open: https://desk.example/incidents/7")
