"""The false-alarm budget calibrated to each brand's own tail of surprise (`SurpriseTail`).

A brand whose buckets are as surprising as the negative binomial says keeps the rule's
p-value; one whose real chatter has a heavier tail needs more surprise for a spike, by as much
as its own history says. The tail is bounded, saved with the brand's state, and one run of
surprising buckets (a story, a bot's hour) is one peak.
"""

from __future__ import annotations

import math
import random

from listener.incidents.detector import BrandState
from listener.incidents.spike import SpikeRule, SurpriseTail, p_value_for_budget

RULE = SpikeRule(p_value=p_value_for_budget(1.0, 300))
NOMINAL = -math.log10(RULE.p_value)


def _fed(excess_scale: float, buckets: int, every: int, seed: int = 3) -> SurpriseTail:
    """A tail fed `buckets` closed buckets: one in `every` a peak past p = 0.01, its excess
    over that exponential with this scale (in decades of p), the others unsurprising."""
    rng = random.Random(seed)
    tail = SurpriseTail()
    for b in range(buckets):
        value = 2.0 + rng.expovariate(1.0 / excess_scale) if b % every == 0 else 0.5
        tail.learn(b, value, RULE)
    return tail


def test_a_brand_as_calm_as_the_model_keeps_the_rules_p_value() -> None:
    # An exact test: peaks past p = 0.01 in one bucket of a hundred, excesses Exp(1/ln 10).
    tail = _fed(1 / math.log(10), 8640, 100)
    assert RULE.p_value / 2 < tail.p_value(8640, RULE) <= RULE.p_value


def test_a_heavier_tail_needs_more_surprise_for_the_same_budget() -> None:
    light = _fed(1 / math.log(10), 8640, 100).limit(8640, RULE)
    heavy = _fed(3.0, 8640, 100).limit(8640, RULE)
    assert heavy > light + 5


def test_a_young_brand_starts_from_a_prior_a_little_stricter_than_the_rule() -> None:
    limit = SurpriseTail().limit(0, RULE)
    assert NOMINAL <= limit < NOMINAL + 3


def test_a_run_of_surprising_buckets_is_one_peak_counted_up_to_its_cap() -> None:
    tail = SurpriseTail()
    for b in range(6):
        tail.learn(b, 300.0, RULE)  # one story, six buckets far past any limit
    assert len(tail.peaks) == 1
    assert tail.peaks[0][1] <= 3 * (SurpriseTail().limit(0, RULE) - 2.0) + 1e-3
    tail.learn(100, 3.0, RULE)  # more than an hour later: another run
    assert len(tail.peaks) == 2


def test_the_tail_is_bounded_in_peaks_and_in_time() -> None:
    rule = SpikeRule(p_value=RULE.p_value, calibration_buckets=2000)
    tail = SurpriseTail()
    for b in range(0, 20_000, 13):
        tail.learn(b, 4.0, rule)
    assert len(tail.peaks) <= 100
    assert all(b >= 20_000 - 2000 for b, _ in tail.peaks)
    tail.learn(30_000, 0.0, rule)
    assert tail.peaks == []


def test_the_tail_is_saved_with_the_brand_state_and_goes_on_identically() -> None:
    tail = _fed(2.0, 3000, 40)
    state = BrandState(tail=tail)
    again = BrandState.from_json(state.as_json())
    assert again.tail == tail
    for b in range(3000, 3400):
        value = 7.5 if b % 50 == 0 else 1.0
        tail.learn(b, value, RULE)
        again.tail.learn(b, value, RULE)
        assert again.tail.limit(b, RULE) == tail.limit(b, RULE)
    assert again.tail == tail
