"""Incident detection, pure: the spike test at low counts, the reach rule, grouping, severity.

No database here: the detector is fed observations and a time, as the after-store step does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from listener.incidents.detector import (
    ActiveIncident,
    BrandState,
    DetectionRules,
    Detector,
)
from listener.incidents.model import IncidentProfile, IncidentType, Observation, Severity, cues_of
from listener.incidents.spike import Baseline, SpikeRule, negative_binomial_tail, spike_test
from listener.incidents.terms import tokens

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_ids = iter(range(1, 1_000_000))


def obs(
    at: datetime,
    text: str,
    *,
    brand: str = "O2",
    category: str = "other",
    dissatisfied: bool = False,
    risk: float = 0.05,
    followers: int = 100,
    news: bool = False,
    url: str = "",
    author: str = "",
) -> Observation:
    i = next(_ids)
    return Observation(
        mention_id=i,
        brand=brand,
        at=at,
        source="x",
        source_kind="feed" if news else "x",
        author=author or f"user{i}",
        followers=followers,
        verified=False,
        news=news,
        url=url,
        story_key=url.removeprefix("https://"),
        title="",
        text=text,
        category=category,
        dissatisfied=dissatisfied,
        risk=risk,
        words=tokens(text, frozenset({"o2"})),
        cues=cues_of(text) if dissatisfied or risk >= 0.6 else (),
    )


def leak(at: datetime, **kw: object) -> Observation:
    return obs(
        at,
        "O2 leaked my phone number, now getting spam calls. data breach",
        category="privacy",
        dissatisfied=True,
        risk=0.8,
        **kw,  # type: ignore[arg-type]
    )


def background(start: datetime, minutes: int, every: int = 2) -> list[Observation]:
    texts = ["loving the O2 plan", "O2 signal ok in town", "new O2 phone arrived", "O2 shop visit"]
    return [
        obs(start + timedelta(minutes=m), texts[m % len(texts)]) for m in range(0, minutes, every)
    ]


def run(detector: Detector, state: BrandState, items: list[Observation]) -> list[ActiveIncident]:
    """Feed mentions one by one in time order, numbered as the store would number them."""
    incidents: list[ActiveIncident] = []
    base = state.max_mention_id
    for n, item in enumerate(sorted(items, key=lambda o: o.at), start=base + 1):
        detector.process(state, incidents, [replace(item, mention_id=n)], item.at)
    return incidents


def test_the_tail_is_poisson_like_with_history_and_wider_when_young() -> None:
    # Poisson(1): P(X >= 4) is about 0.019; a young baseline (small shape) is more forgiving.
    assert abs(negative_binomial_tail(4, 1e6, 1.0) - 0.019) < 0.001
    assert negative_binomial_tail(4, 2.0, 1.0) > negative_binomial_tail(4, 200.0, 1.0)
    assert negative_binomial_tail(0, 5.0, 1.0) == 1.0


def _tail_by_summing_the_pmf(k: int, shape: float, mean: float) -> float:
    p = shape / (shape + mean)
    below, pmf = 0.0, p**shape
    for x in range(k):
        below += pmf
        pmf *= (x + shape) / (x + 1) * (1 - p)  # pmf(x + 1) / pmf(x)
    return 1.0 - below


@pytest.mark.parametrize("k", [1, 3, 5, 12, 40, 300])
@pytest.mark.parametrize(("shape", "mean"), [(0.5, 0.2), (2.0, 1.0), (12.0, 1.5), (1e5, 4.0)])
def test_the_tail_is_the_negative_binomial_one(k: int, shape: float, mean: float) -> None:
    expected = _tail_by_summing_the_pmf(k, shape, mean)
    assert negative_binomial_tail(k, shape, mean) == pytest.approx(expected, abs=1e-10)


def test_a_huge_burst_gets_a_tiny_p_value_not_zero() -> None:
    # Summing the pmf leaves 1 - 1.0 = 0 here; the alert would say "p=0".
    p = negative_binomial_tail(60, 1e6, 1.0)
    assert 0.0 < p < 1e-60


def test_three_mentions_at_4am_are_not_a_crisis_however_quiet_the_night() -> None:
    baseline = Baseline()
    rule = SpikeRule()
    for _ in range(288):
        baseline.learn(0.0, 4, rule)
    assert not spike_test(3, baseline, 4, rule).spike  # below min_count
    assert spike_test(12, baseline, 4, rule).spike


def test_a_busy_brand_needs_a_real_jump_not_a_few_more_than_usual() -> None:
    baseline = Baseline()
    rule = SpikeRule()
    for _ in range(500):
        baseline.learn(20.0, 12, rule)
    assert not spike_test(30, baseline, 12, rule).spike  # below min_ratio 3x
    assert spike_test(70, baseline, 12, rule).spike


def test_the_night_is_quieter_than_the_day_from_the_first_day() -> None:
    rule = SpikeRule()
    fresh = Baseline()
    _, night = fresh.shape_and_mean(3, rule)
    _, noon = fresh.shape_and_mean(13, rule)
    assert noon > 4 * night


def test_the_brands_own_daily_rhythm_replaces_the_prior_shape() -> None:
    rule = SpikeRule()
    baseline = Baseline()
    for _day in range(4):
        for bucket in range(288):
            hour = bucket // 12
            baseline.learn(10.0 if hour == 20 else 1.0, hour, rule)
    _, evening = baseline.shape_and_mean(20, rule)
    _, morning = baseline.shape_and_mean(9, rule)
    assert evening > 3 * morning
    assert not spike_test(12, baseline, 20, rule).spike
    assert spike_test(12, baseline, 9, rule).spike


def test_one_risky_post_by_a_news_site_opens_an_incident_by_itself() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    news = leak(T0 + timedelta(hours=2), news=True, url="https://technews.example/o2-leak")
    incidents = run(detector, state, [*background(T0, 120), news])
    assert len(incidents) == 1
    assert incidents[0].trigger == "reach"
    assert incidents[0].profile.type is IncidentType.PRIVACY


def test_a_risky_post_without_reach_waits_for_company() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    incidents = run(detector, state, [*background(T0, 120), leak(T0 + timedelta(hours=2))])
    assert incidents == []


def test_a_growing_crowd_opens_one_incident_and_later_posts_join_it() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    start = T0 + timedelta(hours=3)
    crowd = [leak(start + timedelta(seconds=20 * i)) for i in range(30)]
    incidents = run(detector, state, [*background(T0, 240), *crowd])
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.trigger.startswith("volume")
    assert incident.profile.mention_count == 30
    assert incident.opened_at - start <= timedelta(minutes=5)


def test_severity_rises_with_volume_and_reach_and_is_recorded_once_per_level() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    start = T0 + timedelta(hours=3)
    first = leak(start, news=True, url="https://technews.example/o2-leak")
    big = leak(start + timedelta(minutes=1), followers=2_500_000)
    crowd = [leak(start + timedelta(minutes=2, seconds=5 * i)) for i in range(60)]
    incidents = run(detector, state, [*background(T0, 180), first, big, *crowd])
    assert len(incidents) == 1
    incident = incidents[0]
    levels = [new for _, new in incident.escalations]
    assert levels == sorted(levels, key=lambda s: s.level)
    assert len(set(levels)) == len(levels)
    assert incident.severity in (Severity.HIGH, Severity.CRITICAL)
    assert incident.profile.top_authors(1)[0]["followers"] == 2_500_000


def test_calm_brands_never_open_incidents_on_ordinary_complaints() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    items = background(T0, 24 * 60, every=1)
    items += [
        obs(
            T0 + timedelta(minutes=37 * i),
            "Skyline Air flight delayed again",
            brand="O2",
            category="complaint",
            dissatisfied=True,
            risk=0.3,
        )
        for i in range(30)
    ]
    assert run(detector, state, items) == []


def test_unrelated_complaints_do_not_join_a_privacy_incident() -> None:
    rules = DetectionRules()
    detector = Detector(rules)
    state = BrandState()
    run(detector, state, background(T0, 120))
    first = leak(T0 + timedelta(hours=2), news=True, url="https://technews.example/o2-leak")
    incidents: list[ActiveIncident] = []
    detector.process(state, incidents, [first], first.at)
    other = obs(
        first.at + timedelta(minutes=3),
        "O2 billing charged me twice this month",
        category="complaint",
        dissatisfied=True,
        risk=0.2,
    )
    detector.process(state, incidents, [other], other.at)
    assert incidents[0].profile.mention_count == 1


def test_state_survives_a_round_trip_through_json() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    run(detector, state, [*background(T0, 300), leak(T0 + timedelta(hours=5))])
    again = BrandState.from_json(state.as_json())
    assert again.as_json() == state.as_json()
    assert len(again.pool) == 1


def test_a_mention_seen_twice_changes_nothing() -> None:
    detector = Detector(DetectionRules())
    state = BrandState()
    news = leak(T0, news=True, url="https://technews.example/o2-leak")
    incidents: list[ActiveIncident] = []
    detector.process(state, incidents, [news], T0)
    detector.process(state, incidents, [news], T0)
    assert len(incidents) == 1
    assert incidents[0].profile.mention_count == 1


def test_profile_summary_is_plain_text_with_terms_sources_and_a_sample() -> None:
    profile = IncidentProfile.starting_with(leak(T0, author="bigvoice", followers=300_000), 0.6)
    from listener.incidents.model import summary

    text = summary(profile)
    assert "O2" in text and "phone" in text and "bigvoice (300,000 followers)" in text


def test_a_saved_state_kept_in_memory_goes_on_exactly_like_a_reloaded_one() -> None:
    """The tracker keeps the state it saved instead of reloading it: both must agree exactly,
    down to the order words are counted in (which decides ties between equally common words)."""
    detector = Detector(DetectionRules())
    long_text = "O2 leaked numbers " + "word " * 200
    kept = BrandState()
    first = [
        *background(T0, 120),
        *(
            obs(T0 + timedelta(minutes=m), long_text, dissatisfied=True, risk=0.123456789)
            for m in range(115, 118)
        ),
    ]
    run(detector, kept, first)
    saved = kept.as_json()
    reloaded = BrandState.from_json(saved)
    assert kept == reloaded
    assert kept.pool and all(len(o.text) <= 500 and o.risk == 0.1235 for o in kept.pool)
    assert [list(o.words) for o in kept.pool] == [list(o.words) for o in reloaded.pool]
    assert list(kept.terms.df) == list(reloaded.terms.df)
    later = [*background(T0 + timedelta(hours=2), 60), leak(T0 + timedelta(hours=3))]
    run(detector, kept, later)
    run(detector, reloaded, later)
    assert kept.as_json() == reloaded.as_json()


def test_the_pool_keeps_the_newest_concerning_mentions_within_its_horizon() -> None:
    """The pool is trimmed without looking at all of it each time: it must still hold exactly
    what the rule says, with late mentions arriving in a later batch and a pool over its cap."""
    rules = DetectionRules(spike=SpikeRule(min_count=10**9))  # nothing opens by volume
    detector = Detector(rules)
    state = BrandState()
    horizon = rules.bucket * rules.pool_buckets
    words = [f"w{i}" for i in range(40)]

    def complaint(at: datetime, i: int) -> Observation:
        return obs(at, f"O2 {words[i % 40]} {words[(i * 7) % 40]}", dissatisfied=True, risk=0.3)

    early = [complaint(T0 + timedelta(seconds=2 * i), i) for i in range(400)]
    late = [complaint(T0 + timedelta(seconds=2 * i + 1), i) for i in range(100, 350)]
    later = [complaint(T0 + timedelta(minutes=20, seconds=i), i) for i in range(300)]
    # Older than everything left in the pool, then pushed out by the next batch's horizon.
    stragglers = [complaint(T0 + timedelta(minutes=6, seconds=i), i) for i in range(5)]
    last = [complaint(T0 + timedelta(minutes=23, seconds=i), i) for i in range(5)]
    expected: list[Observation] = []
    incidents: list[ActiveIncident] = []
    sizes = []
    for batch in (early, late, later, stragglers, last):
        detector.process(state, incidents, batch, T0 + timedelta(hours=1))
        for o in sorted(batch, key=lambda o: (o.at, o.mention_id)):
            expected.append(o)
            expected = [e for e in expected if e.at >= o.at - horizon][-500:]
        assert [o.mention_id for o in state.pool] == [o.mention_id for o in expected]
        sizes.append(len(state.pool))
        state.as_json()
    assert not incidents
    # Under the cap, at the cap, early ones expired, stragglers kept, then they expire.
    assert sizes == [400, 500, 451, 456, 456]


def _grumble(at: datetime) -> Observation:
    return obs(at, "O2 internet is down again", category="complaint", dissatisfied=True, risk=0.3)


def _young_provider(burst: int) -> list[ActiveIncident]:
    """An internet provider's first two hours (two grumbles a bucket, each saying it is down),
    then `burst` of the same grumbles from as many authors within a bucket."""
    usual = [_grumble(T0 + timedelta(seconds=150 * i)) for i in range(48)]
    start = T0 + timedelta(hours=2)
    crowd = [_grumble(start + timedelta(seconds=15 * i)) for i in range(burst)]
    return run(Detector(DetectionRules()), BrandState(), [*usual, *crowd])


@pytest.mark.parametrize("burst", [6, 7, 8])
def test_a_young_brand_whose_usual_grumbles_name_an_outage_is_not_paged_by_a_few_more(
    burst: int,
) -> None:
    """Its ordinary chatter says "down" all day; in its first hours the level is still mostly
    the prior's guess, so a few more of its usual grumbles in one bucket (each author naming
    the same trouble) are not yet a story."""
    assert _young_provider(burst) == []


def test_a_young_brand_is_still_paged_by_a_real_surge() -> None:
    incidents = _young_provider(20)  # ten times its usual within five minutes
    assert len(incidents) == 1
    assert incidents[0].profile.type == IncidentType.OUTAGE
