"""Is this bucket's count surprising for this brand? A count test that is honest at low volume.

A z-score calls 4 mentions a spike when the usual is 1; a Poisson tail does better but trusts a
baseline learnt from three buckets as much as one learnt from three weeks. Here the rate is a
Gamma posterior (a weak prior of `prior_rate` per bucket worth `prior_buckets` buckets, plus the
exponentially weighted history), so the predictive count is negative-binomial: wide while the
brand is young, close to Poisson once it has history. A minimum count and a minimum ratio keep
three mentions at 4 a.m. from being a crisis whatever the tail says.

The expected count follows the brand's rhythm from the first day: the level is learnt on
counts divided by the hour-of-day and weekday/weekend factors, and the factors start from a
plain prior shape (quiet nights, busy days, weekends like weekdays) that the brand's own
history replaces as it accumulates, so the morning ramp is not a spike on day one, and on
day thirty the brand's own rhythm is used.

A spike must also stand out from the brand's own history: real chatter is far burstier than
any count model of it, by a different amount for each brand, so `LiftTail` learns how many
times its usual the brand's buckets reach and sets the lift that keeps runs of spikes to the
false-alarm budget (`alarm_rate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
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


# Relative mention rate by hour of day (UTC unless `day_shape_offset` says otherwise) before a
# brand has its own: people post little from midnight to six, most from late morning to evening.
PRIOR_DAY_SHAPE = (
    0.45, 0.3, 0.22, 0.2, 0.2, 0.25, 0.4, 0.7, 1.0, 1.2, 1.35, 1.4,
    1.45, 1.45, 1.4, 1.4, 1.4, 1.4, 1.4, 1.35, 1.3, 1.2, 0.95, 0.7,
)  # fmt: skip
_PRIOR_MEAN = sum(PRIOR_DAY_SHAPE) / HOURS


@lru_cache(maxsize=32)
def _prior_shape(offset: int) -> tuple[float, ...]:
    """The prior day shape against its mean, by UTC hour, for brands `offset` hours ahead."""
    return tuple(PRIOR_DAY_SHAPE[(h + offset) % HOURS] / _PRIOR_MEAN for h in range(HOURS))


_DISPERSION_AFTER = 36.0  # buckets of history before the brand's burstiness is trusted
_MIN_SHAPE = 0.5
_DISPERSION_PRIOR = 36.0


@dataclass(frozen=True, slots=True)
class SpikeRule:
    """Thresholds of the volume test (from `[incidents]` settings)."""

    min_count: int = 5
    min_ratio: float = 3.0
    p_value: float = 0.001
    prior_rate: float = 1.0
    prior_buckets: float = 12.0
    half_life_buckets: float = 288.0  # one day of 5-minute buckets
    # How many buckets' worth of the brand's own history for one hour of the day (or for
    # weekends) outweighs the prior shape: at 12, about a day's worth.
    rhythm_prior_weight: float = 12.0
    day_shape_offset: int = 0  # hours to add to UTC to get the brands' local time
    # The false-alarm budget per bucket (`false_alarms_per_month` / buckets in a month), which
    # the brand's own tail of lift is calibrated to (`LiftTail`), over this many
    # buckets of its history (a month of 5-minute buckets).
    alarm_rate: float = 1.0 / 8640
    calibration_buckets: int = 8640

    @property
    def alpha(self) -> float:
        return float(1.0 - 0.5 ** (1.0 / self.half_life_buckets))


def alarm_rate_for_budget(false_alarms_per_month: float, bucket_seconds: float) -> float:
    """The budget as a rate per bucket: what the brand's tail of lift is calibrated to."""
    return false_alarms_per_month * bucket_seconds / (30 * 86400)


def p_value_for_budget(false_alarms_per_month: float, bucket_seconds: float) -> float:
    """The per-test p-value that keeps calm traffic under the false-alarm budget.

    Each bucket is tested up to three ways (the bucket, the last few buckets together, all
    mentions), so a month holds 3 x (month / bucket) tests; a p-value of budget / tests keeps
    the expected number of false alarms on calm traffic under the budget (Bonferroni: the
    tests overlap, so the real rate is lower still).
    """
    tests = 3.0 * 30 * 86400 / bucket_seconds
    return min(0.01, max(1e-9, false_alarms_per_month / tests))


@dataclass
class Baseline:
    """What one brand's series usually looks like: a deseasonalised level and its rhythm."""

    weighted_sum: float = 0.0
    weight: float = 0.0
    buckets_seen: int = 0
    hourly_sum: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    hourly_weight: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    # Raw counts on weekdays [0] and weekend days [1], decayed like the level.
    week_sum: list[float] = field(default_factory=lambda: [0.0, 0.0])
    week_weight: list[float] = field(default_factory=lambda: [0.0, 0.0])
    # Overdispersion, decayed like the level: the mean of (count - expected)^2 - expected and
    # of expected^2 over closed buckets. Real chatter is burstier than Poisson (a retweet
    # wave, a bot); a negative binomial with 1/r = excess / expected^2 says by how much.
    excess: float = 0.0
    expected_sq: float = 0.0
    _factors: dict[tuple[int, bool], float] = field(default_factory=dict, compare=False, repr=False)
    # The hourly rates as `hour_factor` last computed them (cleared with `_factors`).
    _hours: tuple[SpikeRule, list[float]] | None = field(default=None, compare=False, repr=False)

    def learn(
        self,
        count: float,
        hour: int,
        rule: SpikeRule,
        empty_before: int = 0,
        weekend: bool = False,
        spiked: bool = False,
    ) -> None:
        """Fold in one closed bucket (after `empty_before` buckets with no mentions at all).

        `count` is cut to the spike threshold by the caller (a spike is not the new normal); a
        bucket that `spiked` says nothing about the brand's ordinary burstiness and is left
        out of it: a story's first buckets must not make the next story harder to see."""
        decay = 1.0 - rule.alpha
        factor = self.factor(hour, weekend, rule)
        if self.weight > 0 and not spiked:
            expected = self.weighted_sum / self.weight * factor
            self.excess = self.excess * decay + (count - expected) ** 2 - expected
            self.expected_sq = self.expected_sq * decay + expected * expected
        self._factors.clear()
        self._hours = None
        if empty_before > 0:
            skipped = min(empty_before, 10 * int(rule.half_life_buckets))
            fade = decay**skipped
            self.weighted_sum *= fade
            self.weight = self.weight * fade + (1.0 - fade) / rule.alpha
            self.buckets_seen += empty_before
            cell = 1 if weekend else 0
            self.week_sum[cell] *= fade
            self.week_weight[cell] = self.week_weight[cell] * fade + (1.0 - fade) / rule.alpha
        self.weighted_sum = self.weighted_sum * decay + count / factor
        self.weight = self.weight * decay + 1.0
        self.buckets_seen += 1
        # Each hour is seen once a day: its cells remember about a week of that hour.
        hourly_decay = 1.0 - min(1.0, rule.alpha * HOURS / 7)
        self.hourly_sum[hour] = self.hourly_sum[hour] * hourly_decay + count
        self.hourly_weight[hour] = self.hourly_weight[hour] * hourly_decay + 1.0
        cell = 1 if weekend else 0
        self.week_sum[cell] = self.week_sum[cell] * decay + count
        self.week_weight[cell] = self.week_weight[cell] * decay + 1.0

    def shape_and_mean(
        self, hour: int, rule: SpikeRule, weekend: bool = False
    ) -> tuple[float, float]:
        """Predictive negative binomial for the next bucket: (shape r, mean)."""
        shape = rule.prior_rate * rule.prior_buckets + self.weighted_sum
        exposure = rule.prior_buckets + self.weight
        mean = shape / exposure * self.factor(hour, weekend, rule)
        # Gamma(shape, exposure) mixed with Poisson: NB with r = shape, mean = shape/exposure;
        # wider still when the brand's own history is burstier than that (after a few hours).
        # The estimate is shrunk towards Poisson by `_DISPERSION_PRIOR` buckets' worth of
        # expected^2 at one mention per bucket: at a fraction of a mention per bucket, a small
        # error in the expected count would otherwise read as burstiness.
        if self.weight >= _DISPERSION_AFTER and self.excess > 0:
            r = (self.expected_sq + _DISPERSION_PRIOR) / self.excess
            shape = min(shape, max(_MIN_SHAPE, r))
        return shape, mean

    def factor(self, hour: int, weekend: bool, rule: SpikeRule) -> float:
        """How busy this hour (and kind of day) is against the brand's average, in [0.2, 5]."""
        key = (hour, weekend)
        known = self._factors.get(key)
        if known is None:
            known = self._factors[key] = min(
                5.0, max(0.2, self.hour_factor(hour, rule) * self.week_factor(weekend, rule))
            )
        return known

    def hour_factor(self, hour: int, rule: SpikeRule = SpikeRule()) -> float:
        """The hour's rate against the day's average: the prior shape, replaced by the brand's
        own hourly rates in proportion to how much of them it has seen."""
        known = self._hours
        if known is None or known[0] is not rule:
            known = self._hours = (rule, self._hour_rates(rule))
        rates = known[1]
        average = sum(rates) / HOURS
        return rates[hour] / average if average > 0 else 1.0

    def _hour_rates(self, rule: SpikeRule) -> list[float]:
        k = rule.rhythm_prior_weight
        prior_shape = _prior_shape(rule.day_shape_offset)
        total_w = sum(self.hourly_weight)
        overall = sum(self.hourly_sum) / total_w if total_w > 0 else 0.0
        if overall <= 0:
            return list(prior_shape)
        return [
            (s + k * prior * overall) / (w + k)
            for s, w, prior in zip(self.hourly_sum, self.hourly_weight, prior_shape, strict=True)
        ]

    def week_factor(self, weekend: bool, rule: SpikeRule = SpikeRule()) -> float:
        """Weekend (or weekday) rate against the week's average; 1.0 until both are known."""
        k = rule.rhythm_prior_weight * 12  # a day's worth of buckets
        weights = self.week_weight
        total_w = weights[0] + weights[1]
        if total_w <= 0:
            return 1.0
        overall = (self.week_sum[0] + self.week_sum[1]) / total_w
        if overall <= 0:
            return 1.0
        rates = [(self.week_sum[c] + k * overall) / (weights[c] + k) for c in (0, 1)]
        week = (5 * rates[0] + 2 * rates[1]) / 7
        return rates[1 if weekend else 0] / week if week > 0 else 1.0

    def as_json(self) -> dict[str, Any]:
        """The baseline, rounded; the figures here are rounded too, as `from_json` would read
        them back, so a caller keeping this object goes on exactly like one reloading it."""
        self.weighted_sum = round(self.weighted_sum, 6)
        self.weight = round(self.weight, 6)
        self.hourly_sum = [round(v, 5) for v in self.hourly_sum]
        self.hourly_weight = [round(v, 5) for v in self.hourly_weight]
        self.week_sum = [round(v, 5) for v in self.week_sum]
        self.week_weight = [round(v, 5) for v in self.week_weight]
        self.excess = round(self.excess, 6)
        self.expected_sq = round(self.expected_sq, 6)
        self._factors.clear()
        self._hours = None
        return {
            "s": self.weighted_sum,
            "w": self.weight,
            "n": self.buckets_seen,
            "hs": list(self.hourly_sum),
            "hw": list(self.hourly_weight),
            "ws": list(self.week_sum),
            "ww": list(self.week_weight),
            "ex": self.excess,
            "e2": self.expected_sq,
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
            week_sum=[float(v) for v in data.get("ws", [0.0, 0.0])],
            week_weight=[float(v) for v in data.get("ww", [0.0, 0.0])],
            excess=float(data.get("ex", 0.0)),
            expected_sq=float(data.get("e2", 0.0)),
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


def spike_test(
    count: int,
    baseline: Baseline,
    hour: int,
    rule: SpikeRule,
    weekend: bool = False,
    p_value: float | None = None,
) -> SpikeVerdict:
    """Minimum count, minimum ratio, then the negative-binomial tail against the baseline."""
    shape, mean = baseline.shape_and_mean(hour, rule, weekend)
    return judge(count, shape, mean, rule, p_value)


def threshold(shape: float, mean: float, rule: SpikeRule) -> int:
    """The smallest count this test calls a spike (against this shape and mean)."""
    from scipy.special import nbdtrik

    mean = max(mean, 1e-9)
    quantile = float(nbdtrik(1.0 - rule.p_value, shape, shape / (shape + mean)))
    tail = math.floor(quantile) + 1 if math.isfinite(quantile) else 10**9
    return max(rule.min_count, math.ceil(rule.min_ratio * mean), tail)


def judge(
    count: int, shape: float, mean: float, rule: SpikeRule, p_value: float | None = None
) -> SpikeVerdict:
    """The test itself against a predictive negative binomial (shape, mean); the tail must be
    below `p_value` when given, else the rule's."""
    if count < rule.min_count or count < rule.min_ratio * mean:
        return SpikeVerdict(False, count, mean, 1.0)
    p = negative_binomial_tail(count, shape, mean)
    return SpikeVerdict(p < (rule.p_value if p_value is None else p_value), count, mean, p)


def smallest_spike(shape: float, mean: float, rule: SpikeRule, p_value: float) -> int:
    """The smallest count `judge` calls a spike against (shape, mean) at `p_value`. It is
    found with the same tail function (the tail falls as the count grows), so a count passes
    `judge` exactly when it is at least this: a bucket's mentions are compared with it, and
    the tail is evaluated a few times per bucket instead of once per mention."""
    low = max(rule.min_count, math.ceil(rule.min_ratio * mean))
    if negative_binomial_tail(low, shape, mean) < p_value:
        return low
    high = 2 * low
    while negative_binomial_tail(high, shape, mean) >= p_value:
        low, high = high, 2 * high
        if high > 10**9:
            return 10**9
    while high - low > 1:  # `low` is not a spike, `high` is
        middle = (low + high) // 2
        if negative_binomial_tail(middle, shape, mean) < p_value:
            high = middle
        else:
            low = middle
    return high


def lift(count: float, mean: float) -> float:
    """How many times the usual a count is, in decades (log10 of count over mean), with a
    pseudo-count of one mention on each side so that a few mentions against almost none do not
    read as a thousandfold (0 when at most the mean).

    The brand's calibration is learnt on this rather than on the tail probability: how far
    above its usual a brand's chatter goes is a stable trait of the brand, while a tail
    probability depends on how well the count model fits, and far in the tail (a burst of 300
    against 6) it swings by hundreds of decades with the model's burstiness estimate."""
    if count <= mean:
        return 0.0
    return math.log10((count + _LIFT_PSEUDO) / (mean + _LIFT_PSEUDO))


def least_count(mean: float, level: float) -> int:
    """The smallest count whose `lift` over `mean` is at least `level`."""
    count = math.ceil((mean + _LIFT_PSEUDO) * math.pow(10.0, level) - _LIFT_PSEUDO)
    while count > mean and lift(count, mean) < level:  # rounding at the boundary
        count += 1
    return max(1, count)


# The brand's tail of lift: buckets more than `_TAIL_FLOOR` decades above the usual (about
# 1.4 times) are its peaks (one per run of them, the run's highest); the last `_TAIL_PEAKS`
# within `calibration_buckets` are kept. Until it has some, the fit leans on a prior
# (`_TAIL_PRIOR_*`): a run past the floor in one bucket of a hundred, peaks reaching past it
# by `_TAIL_PRIOR_SCALE` decades on average, worth `_TAIL_PRIOR_PEAKS` peaks and a week.
_LIFT_PSEUDO = 1.0
_TAIL_FLOOR = 0.15
_TAIL_PEAKS = 100
_TAIL_RUN_GAP = 12  # buckets between two peaks of one run (an hour of 5-minute buckets)
_TAIL_BUILDING = 3  # a run this young (in buckets) is left out of the fit
_TAIL_PRIOR_RATE = 0.01
_TAIL_PRIOR_PEAKS = 4.0
_TAIL_PRIOR_BUCKETS = 2016.0  # a week of 5-minute buckets
_TAIL_PRIOR_SCALE = 0.15
_TAIL_CAP = 3.0
# The saved tail's units; a tail saved in other units (an earlier version's) starts afresh.
_TAIL_VERSION = 2


def _fit_scale(excesses: list[float]) -> float:
    """The mean excess of the peaks over the floor, shrunk towards the prior's by
    `_TAIL_PRIOR_PEAKS` peaks: the scale of an exponential tail. (A generalised Pareto shape
    fitted on a few dozen peaks swung the level more than it mended the fit, on real traffic.)"""
    total = math.fsum(excesses)
    return (total + _TAIL_PRIOR_PEAKS * _TAIL_PRIOR_SCALE) / (len(excesses) + _TAIL_PRIOR_PEAKS)


@dataclass
class LiftTail:
    """How far above its usual the brand's own buckets go, so that its false-alarm budget
    holds whatever its traffic is like: peaks over a threshold, as in SPOT (Siffer et al.,
    KDD 2017), on the buckets' `lift`.

    Each closed bucket's lift (all its concerning mentions counted, stories' too, the bucket
    alone and with the ones before it) is folded in. Over `_TAIL_FLOOR` it is a peak; a run of
    such buckets (a story, a bot's hour) is one peak, its highest. The peaks' excesses over
    the floor are fitted with an exponential tail, and the lift a spike needs is the level the
    fit says is passed at `alarm_rate` runs per bucket. A brand whose chatter jumps to five
    times its usual every other day needs more than one whose busiest hour is twice its usual:
    the fit measures which. The count test's p-value still applies as well, so a quiet
    brand's few mentions are judged by the count model. The state is bounded: at most
    `_TAIL_PEAKS` peaks, none older than `calibration_buckets`.
    """

    seen: int = 0
    last_over: int = -(10**9)  # the bucket of the last lift over the floor
    run_cap: float = 0.0  # the most the current run's peak counts for (see `learn`)
    # (bucket, excess over the floor) of each run's peak, oldest first.
    peaks: list[tuple[int, float]] = field(default_factory=list)
    _limit: float | None = field(default=None, compare=False, repr=False)
    _fit: tuple[Any, float] | None = field(default=None, compare=False, repr=False)

    def learn(self, bucket: int, value: float, rule: SpikeRule, empty_after: int = 0) -> None:
        """Fold in a closed bucket's lift, then `empty_after` empty buckets.

        A peak counts only up to `_TAIL_CAP` times the excess a spike needed when its run
        began: one story far past the limit must not hide the next one for a month."""
        if value > _TAIL_FLOOR:
            peaks = self.peaks
            if peaks and bucket - self.last_over <= _TAIL_RUN_GAP:
                excess = round(min(value - _TAIL_FLOOR, self.run_cap), 4)
                if excess > peaks[-1][1]:
                    peaks[-1] = (peaks[-1][0], excess)
            else:
                needed = self.limit(bucket, rule)
                self.run_cap = round(_TAIL_CAP * (needed - _TAIL_FLOOR), 4)
                peaks.append((bucket, round(min(value - _TAIL_FLOOR, self.run_cap), 4)))
                del peaks[:-_TAIL_PEAKS]
            self.last_over = bucket
        self.seen += 1 + empty_after
        self._limit = None
        oldest = bucket + empty_after - rule.calibration_buckets
        while self.peaks and self.peaks[0][0] < oldest:
            del self.peaks[0]

    def limit(self, bucket: int, rule: SpikeRule) -> float:
        """The lift a bucket must reach for runs like it to come at `alarm_rate`."""
        if self._limit is not None:
            return self._limit
        peaks = self.peaks
        building = bucket - peaks[-1][0] < _TAIL_BUILDING if peaks else False
        if building and bucket - self.last_over <= _TAIL_RUN_GAP:
            # A run in its first buckets is left out: a story must not raise the bar while
            # it builds (a long run is the brand's way, and counts).
            peaks = peaks[:-1]
        n = float(min(self.seen, rule.calibration_buckets))
        if len(peaks) >= _TAIL_PEAKS:
            n = min(n, float(bucket - peaks[0][0]))
        runs = len(peaks)
        # Rate of runs past the floor, with a week at the prior's rate.
        rate = (runs + _TAIL_PRIOR_BUCKETS * _TAIL_PRIOR_RATE) / (n + _TAIL_PRIOR_BUCKETS)
        # Peaks only ever change at the ends, so the ends and the length say which they are.
        key = (runs, peaks[0], peaks[-1]) if peaks else None
        if self._fit is None or self._fit[0] != key:
            self._fit = (key, _fit_scale([e for _, e in peaks]))
        scale = self._fit[1]
        # Exponential excesses: runs pass floor + x at rate * exp(-x / scale).
        level = _TAIL_FLOOR + scale * math.log(max(1.0, rate / rule.alarm_rate))
        self._limit = level
        return level

    def as_json(self) -> dict[str, Any]:
        return {
            "v": _TAIL_VERSION,
            "n": self.seen,
            "last": self.last_over,
            "cap": self.run_cap,
            "peaks": [list(p) for p in self.peaks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> LiftTail:
        if not data or data.get("v") != _TAIL_VERSION:
            # Peaks in other units would set a meaningless level: begin again from the prior.
            return cls()
        return cls(
            seen=int(data.get("n", 0)),
            last_over=int(data.get("last", -(10**9))),
            run_cap=float(data.get("cap", 0.0)),
            peaks=[(int(b), float(e)) for b, e in data.get("peaks", [])],
        )
