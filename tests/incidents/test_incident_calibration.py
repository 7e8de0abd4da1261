"""The false-alarm budget calibrated to each brand's own tail of lift (`LiftTail`).

How many times its usual a brand's buckets reach is a trait of the brand: one whose chatter
jumps to five times its usual every other day needs more for a spike than one whose busiest
bucket is twice its usual. The tail is bounded, saved with the brand's state, and one run of
lifted buckets (a story, a bot's hour) is one peak.
"""

from __future__ import annotations

import math
import random

from listener.incidents.detector import BrandState
from listener.incidents.spike import LiftTail, SpikeRule, least_count, lift, p_value_for_budget

RULE = SpikeRule(p_value=p_value_for_budget(1.0, 300))
FLOOR = 0.15  # decades: a bucket more than about 1.4 times its usual is a peak


def _fed(excess_scale: float, buckets: int, every: int, seed: int = 3) -> LiftTail:
    """A tail fed `buckets` closed buckets: one in `every` a peak, its lift past the floor
    exponential with this scale (in decades), the others at the usual level."""
    rng = random.Random(seed)
    tail = LiftTail()
    for b in range(buckets):
        value = FLOOR + rng.expovariate(1.0 / excess_scale) if b % every == 0 else 0.05
        tail.learn(b, value, RULE)
    return tail


def test_the_level_is_where_runs_come_at_the_budget() -> None:
    # Peaks in one bucket of a hundred, excesses Exp(scale 0.2): runs pass FLOOR + x at
    # rate 0.01 * exp(-x / 0.2), which is the budget (one a month) at x = 0.2 ln(86.4).
    # Over five brands the fit's sampling error (about 0.1 decade each) averages out.
    levels = [_fed(0.2, 8640, 100, seed).limit(8640, RULE) for seed in range(1, 6)]
    expected = FLOOR + 0.2 * math.log(0.01 / RULE.alarm_rate)
    assert abs(sum(levels) / len(levels) - expected) < 0.15


def test_a_burstier_brand_needs_more_lift_for_the_same_budget() -> None:
    calm = _fed(0.05, 8640, 100).limit(8640, RULE)
    bursty = _fed(0.4, 8640, 100).limit(8640, RULE)
    assert bursty > calm + 0.8  # over six times the count, for the same budget
    assert least_count(50.0, bursty) > 6 * least_count(50.0, calm) - 10


def test_a_young_brand_needs_several_times_its_usual_not_a_hundred() -> None:
    limit = LiftTail().limit(0, RULE)
    assert math.log10(4) < limit < math.log10(20)


def test_a_run_of_lifted_buckets_is_one_peak_counted_up_to_its_cap() -> None:
    tail = LiftTail()
    for b in range(6):
        tail.learn(b, 3.0, RULE)  # one story, six buckets at a thousand times the usual
    assert len(tail.peaks) == 1
    assert tail.peaks[0][1] <= 3 * (LiftTail().limit(0, RULE) - FLOOR) + 1e-3
    tail.learn(100, 0.5, RULE)  # more than an hour later: another run
    assert len(tail.peaks) == 2


def test_the_tail_is_bounded_in_peaks_and_in_time() -> None:
    rule = SpikeRule(p_value=RULE.p_value, calibration_buckets=2000)
    tail = LiftTail()
    for b in range(0, 20_000, 13):
        tail.learn(b, 0.6, rule)
    assert len(tail.peaks) <= 100
    assert all(b >= 20_000 - 2000 for b, _ in tail.peaks)
    tail.learn(30_000, 0.0, rule)
    assert tail.peaks == []


def test_the_tail_is_saved_with_the_brand_state_and_goes_on_identically() -> None:
    tail = _fed(0.3, 3000, 40)
    state = BrandState(tail=tail)
    again = BrandState.from_json(state.as_json())
    assert again.tail == tail
    for b in range(3000, 3400):
        value = 0.9 if b % 50 == 0 else 0.1
        tail.learn(b, value, RULE)
        again.tail.learn(b, value, RULE)
        assert again.tail.limit(b, RULE) == tail.limit(b, RULE)
    assert again.tail == tail


def test_a_tail_saved_in_an_earlier_versions_units_starts_again_from_the_prior() -> None:
    # Earlier versions kept peaks of -log10(p): read as lift, 250 would silence the brand.
    old = {"n": 9000, "last": 8990, "cap": 300.0, "peaks": [[8990, 250.0]]}
    assert LiftTail.from_json(old) == LiftTail()


def test_lift_and_the_least_count_agree() -> None:
    for mean in (0.0, 0.2, 1.0, 7.5, 60.0, 1234.5):
        for level in (0.1, 0.5, 0.82, 1.3, 2.0):
            need = least_count(mean, level)
            assert lift(need, mean) >= level
            assert need <= mean or lift(need - 1, mean) < level
