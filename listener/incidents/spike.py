"""Is this bucket's count surprising for this brand? A count test that is honest at low volume.

A z-score calls 4 mentions a spike when the usual is 1; a Poisson tail does better but trusts a
baseline learnt from three buckets as much as one learnt from three weeks. Here the rate is a
Gamma posterior (a weak prior of `prior_rate` per bucket worth `prior_buckets` buckets, plus the
exponentially weighted history), so the predictive count is negative-binomial: wide while the
brand is young, close to Poisson once it has history. A minimum count and a minimum ratio keep
three mentions at 4 a.m. from being a crisis whatever the tail says.

Once the brand has `seasonal_after` of history, the expected count is scaled by the hour of day
(the brand's own daily rhythm), so the evening peak is not an incident every evening.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HOURS = 24


def negative_binomial_tail(k: int, shape: float, mean: float) -> float:
    """P(X >= k) for a negative binomial with this shape (r) and mean; Poisson when r is huge.

    It is the regularised incomplete beta I_(1-p)(k, r), which SciPy evaluates in constant
    time: a sum over the pmf costs k steps, and the test runs once per concerning mention, so
    a burst of n in one bucket would cost about n²/2 steps.
    """
    if k <= 0:
        return 1.0
    # Imported on first use: commands that only read the store never test for a spike, and
    # importing scipy.special is a noticeable share of their start-up.
    from scipy.special import betainc

    mean = max(mean, 1e-9)
    p = shape / (shape + mean)  # success probability in the (r, p) parametrisation
    return float(betainc(k, shape, 1.0 - p))


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """Thresholds of the volume test (from `[incidents]` settings)."""

    min_count: int = 5
    min_ratio: float = 3.0
    p_value: float = 0.001
    prior_rate: float = 1.0
    prior_buckets: float = 12.0
    half_life_buckets: float = 288.0  # one day of 5-minute buckets
    seasonal_after_buckets: int = 14 * 288  # two weeks

    @property
    def alpha(self) -> float:
        return float(1.0 - 0.5 ** (1.0 / self.half_life_buckets))


@dataclass
class Baseline:
    """What one brand's series usually looks like: a weighted count and weight per bucket."""

    weighted_sum: float = 0.0
    weight: float = 0.0
    buckets_seen: int = 0
    hourly_sum: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    hourly_weight: list[float] = field(default_factory=lambda: [0.0] * HOURS)

    def learn(self, count: float, hour: int, rule: SpikeRule, empty_before: int = 0) -> None:
        """Fold in one closed bucket (after `empty_before` buckets with no mentions at all)."""
        decay = 1.0 - rule.alpha
        if empty_before > 0:
            skipped = min(empty_before, 10 * int(rule.half_life_buckets))
            fade = decay**skipped
            self.weighted_sum *= fade
            self.weight = self.weight * fade + (1.0 - fade) / rule.alpha
            self.buckets_seen += empty_before
        self.weighted_sum = self.weighted_sum * decay + count
        self.weight = self.weight * decay + 1.0
        self.buckets_seen += 1
        hourly_decay = 1.0 - min(1.0, rule.alpha * HOURS)
        self.hourly_sum[hour] = self.hourly_sum[hour] * hourly_decay + count
        self.hourly_weight[hour] = self.hourly_weight[hour] * hourly_decay + 1.0

    def shape_and_mean(self, hour: int, rule: SpikeRule) -> tuple[float, float]:
        """Predictive negative binomial for the next bucket: (shape r, mean)."""
        shape = rule.prior_rate * rule.prior_buckets + self.weighted_sum
        exposure = rule.prior_buckets + self.weight
        mean = shape / exposure
        if self.buckets_seen >= rule.seasonal_after_buckets:
            mean *= self.hour_factor(hour)
        # Gamma(shape, exposure) mixed with Poisson: NB with r = shape, mean = shape/exposure.
        return shape, mean

    def hour_factor(self, hour: int) -> float:
        rates = [s / w for s, w in zip(self.hourly_sum, self.hourly_weight, strict=True) if w > 0]
        if len(rates) < HOURS or self.hourly_weight[hour] <= 0:
            return 1.0
        overall = sum(rates) / len(rates)
        if overall <= 0:
            return 1.0
        factor = (self.hourly_sum[hour] / self.hourly_weight[hour]) / overall
        return min(4.0, max(0.25, factor))

    def as_json(self) -> dict[str, Any]:
        """The baseline, rounded; the figures here are rounded too, as `from_json` would read
        them back, so a caller keeping this object goes on exactly like one reloading it."""
        self.weighted_sum = round(self.weighted_sum, 6)
        self.weight = round(self.weight, 6)
        self.hourly_sum = [round(v, 5) for v in self.hourly_sum]
        self.hourly_weight = [round(v, 5) for v in self.hourly_weight]
        return {
            "s": self.weighted_sum,
            "w": self.weight,
            "n": self.buckets_seen,
            "hs": list(self.hourly_sum),
            "hw": list(self.hourly_weight),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Baseline:
        if not data:
            return cls()
        return cls(
            weighted_sum=float(data.get("s", 0.0)),
            weight=float(data.get("w", 0.0)),
            buckets_seen=int(data.get("n", 0)),
            hourly_sum=[float(v) for v in data.get("hs", [0.0] * HOURS)],
            hourly_weight=[float(v) for v in data.get("hw", [0.0] * HOURS)],
        )


@dataclass(frozen=True, slots=True)
class SpikeVerdict:
    spike: bool
    count: int
    expected: float
    p_value: float

    def describe(self) -> str:
        return (
            f"{self.count} in the bucket against {self.expected:.2f} expected "
            f"(p={self.p_value:.2g})"
        )


def spike_test(count: int, baseline: Baseline, hour: int, rule: SpikeRule) -> SpikeVerdict:
    """Minimum count, minimum ratio, then the negative-binomial tail against the baseline."""
    shape, mean = baseline.shape_and_mean(hour, rule)
    if count < rule.min_count or count < rule.min_ratio * mean:
        return SpikeVerdict(False, count, mean, 1.0)
    p = negative_binomial_tail(count, shape, mean)
    return SpikeVerdict(p < rule.p_value, count, mean, p)
