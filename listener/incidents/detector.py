"""Per-brand incident detection over a time-ordered stream of mentions; pure, time passed in.

For each brand it keeps (as `BrandState`, saved by the caller) two baselines on fixed buckets
(all mentions, and "concerning" ones: dissatisfied or risky), the brand's usual vocabulary, and
a short pool of recent concerning mentions that belong to no incident yet. A mention:

1. joins the best-matching active incident of its brand (same link/story, shared distinctive
   words, or the same specific category while concerning, within `group_window`); else
2. opens an incident on its own when it is risky and has reach (a large following or a news
   site): the reach rule; else
3. counts towards the bucket; when the concerning count is a spike (negative-binomial tail
   below the rule's p-value, minimum count and ratio, and as many times the usual as the
   brand's calibration asks, over the current bucket or the last three), or all mentions
   spike with a high concerning share, the spike's pooled mentions open an incident (all of
   them but those plainly about another kind of trouble than the story): the volume rule.
   How many times the usual is calibrated to the brand's own tail of bucket lift
   (`spike.LiftTail`), so the false-alarm budget holds on real traffic, which is far
   burstier than the negative binomial.

An incident's severity is recomputed as mentions join; a rise is recorded as an escalation,
which is what the caller turns into an alert: one alert per opening and per level, never one
per mention.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.domain import StoredMention, utc
from listener.incidents.model import (
    IncidentProfile,
    Observation,
    Severity,
    SeverityRule,
)
from listener.incidents.spike import (
    Baseline,
    LiftTail,
    SpikeRule,
    SpikeVerdict,
    alarm_rate_for_budget,
    judge,
    least_count,
    lift,
    p_value_for_budget,
    smallest_spike,
    threshold,
)
from listener.incidents.terms import TermStats, read
from listener.incidents.types import IncidentType, dominant_cue
from listener.text.urls import domain_under, host_of

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_POOL_LIMIT = 500


@dataclass(frozen=True, slots=True)
class DetectionRules:
    """Every threshold of detection and grouping, built from settings (see `from_settings`)."""

    bucket: timedelta = timedelta(minutes=5)
    spike: SpikeRule = field(default_factory=SpikeRule)
    severity: SeverityRule = field(default_factory=SeverityRule)
    risk_threshold: float = 0.6
    min_share: float = 0.5
    reach_followers: int = 100_000
    reach_incident_risk: float = 0.6
    news_domains: frozenset[str] = frozenset()
    group_window: timedelta = timedelta(hours=24)
    cooldown: timedelta = timedelta(minutes=30)
    join_weight: float = 4.0
    min_idf: float = 1.0
    pool_buckets: int = 3
    window_buckets: int = 3
    # A concerning mention joins the brand's live story (last mention within `story_gap`)
    # while the brand's concerning volume is at least `burst_ratio` x its usual.
    story_gap: timedelta = timedelta(hours=2)
    burst_ratio: float = 2.0
    burst_buckets: int = 6
    # The same text (links, handles, "RT" aside) within this window counts once to a spike.
    duplicate_window: timedelta = timedelta(hours=1)
    false_alarms_per_month: float = 1.0

    @classmethod
    def from_settings(cls, incidents: Any, risk_threshold: float) -> DetectionRules:
        bucket_s = incidents.bucket.total_seconds()
        p_value = incidents.p_value or p_value_for_budget(
            incidents.false_alarms_per_month, bucket_s
        )
        return cls(
            bucket=incidents.bucket,
            spike=SpikeRule(
                min_count=incidents.min_count,
                min_ratio=incidents.min_ratio,
                p_value=p_value,
                prior_rate=incidents.prior_rate,
                prior_buckets=incidents.prior_buckets,
                half_life_buckets=max(1.0, incidents.baseline_half_life.total_seconds() / bucket_s),
                rhythm_prior_weight=max(1.0, incidents.rhythm_prior_days * 3600 / bucket_s),
                day_shape_offset=incidents.day_shape_offset_hours,
                alarm_rate=alarm_rate_for_budget(incidents.false_alarms_per_month, bucket_s),
                calibration_buckets=max(
                    1, int(incidents.calibration_window.total_seconds() // bucket_s)
                ),
            ),
            severity=SeverityRule(
                mentions=(
                    incidents.severity_mentions[0],
                    incidents.severity_mentions[1],
                    incidents.severity_mentions[2],
                ),
                reach_medium=incidents.reach_followers,
                reach_high=incidents.severity_reach_high,
                total_reach_critical=incidents.severity_total_reach_critical,
            ),
            risk_threshold=risk_threshold,
            min_share=incidents.min_share,
            reach_followers=incidents.reach_followers,
            reach_incident_risk=incidents.reach_incident_risk,
            news_domains=frozenset(d.lower().removeprefix("www.") for d in incidents.news_domains),
            group_window=incidents.group_window,
            cooldown=incidents.cooldown,
            join_weight=incidents.join_weight,
            story_gap=incidents.story_gap,
            burst_ratio=incidents.burst_ratio,
            duplicate_window=incidents.duplicate_window,
            false_alarms_per_month=incidents.false_alarms_per_month,
        )


def observe(
    stored: StoredMention, rules: DetectionRules, ignore: frozenset[str], story_key: str = ""
) -> Observation:
    """Reduce a stored mention to what detection reads (`story_key`: its normalised link)."""
    m = stored.mention
    score = stored.score
    at = utc(m.published_at or m.fetched_at or _EPOCH)
    author = m.author or m.author_name
    text = m.full_text
    news = m.source_kind == "news"
    if (not news and rules.news_domains) or not author:
        host = host_of(m.url)
        news = news or bool(domain_under(host, rules.news_domains))
        author = author or host
    concerning = score.dissatisfied or score.incident_risk >= rules.risk_threshold
    # Only concerning mentions are compared for copies (see `Detector._one`).
    words, print_ = read(text, ignore, author if concerning else None)
    return Observation(
        mention_id=stored.id,
        brand=stored.brand,
        at=at,
        source=m.source,
        source_kind=m.source_kind,
        author=author,
        followers=int(m.author_followers or 0),
        verified=bool(m.author_verified),
        news=news,
        url=m.url,
        story_key=story_key,
        title=m.title,
        text=m.text,
        category=score.category.value,
        dissatisfied=score.dissatisfied,
        risk=float(score.incident_risk),
        words=words,
        # Only concerning mentions are evidence of what went wrong (and only they are typed:
        # it is most of the cost of typing).
        reach_known=m.author_followers is not None,
        fingerprint=print_,
    )


@dataclass
class ActiveIncident:
    """An open or acknowledged incident of one brand, as the caller loaded it (id None: new)."""

    id: int | None
    profile: IncidentProfile
    severity: Severity
    opened_at: datetime
    trigger: str = ""
    joined: list[int] = field(default_factory=list)
    escalations: list[tuple[Severity, Severity]] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return self.id is None

    @property
    def changed(self) -> bool:
        return self.is_new or bool(self.joined)


@dataclass
class BrandState:
    """What detection remembers about one brand between batches and across restarts."""

    bucket: int = -1
    total: int = 0
    concerning: int = 0
    recent: list[int] = field(default_factory=list)
    base_total: Baseline = field(default_factory=Baseline)
    base_concerning: Baseline = field(default_factory=Baseline)
    # How many times its usual the brand's buckets reach: calibrates the spike test to it.
    tail: LiftTail = field(default_factory=LiftTail)
    terms: TermStats = field(default_factory=TermStats)
    pool: list[Observation] = field(default_factory=list)
    last_volume_open: datetime | None = None
    max_mention_id: int = 0
    # Concerning mentions per bucket counting those that joined an incident (current, then
    # the previous `burst_buckets - 1`): whether the brand is in a burst.
    burst_now: int = 0
    burst: list[int] = field(default_factory=list)
    # Fingerprints of recent texts -> the bucket they were last seen in (duplicates).
    prints: dict[int, int] = field(default_factory=dict)
    # Not saved themselves: the saved form of each pool entry already saved once, by mention
    # id (see `as_json`), and a time no pool entry is older than (None: not known), which
    # lets `Detector._trim_pool` skip the pool when nothing in it can have expired.
    settled: dict[int, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    pool_floor: datetime | None = field(default=None, compare=False, repr=False)
    # The smallest spike count for each (shape, mean, p-value, lift) tested in the current bucket
    # (see `Detector._judge`); derived from the saved state, so not saved.
    cuts: dict[tuple[float, float, float, float], int] = field(
        default_factory=dict, compare=False, repr=False
    )

    def as_json(self) -> dict[str, Any]:
        """The state as saved; this object is left exactly as `from_json` of the result would
        rebuild it (rounded figures, shortened texts), so keeping it in memory instead of
        reloading it cannot change what detection does next.

        A busy brand's pool holds hundreds of entries and is saved after every batch, while
        a batch changes only a few of them: each entry's saved form is made once and reused.
        """
        settled = self.settled
        saved: dict[int, dict[str, Any]] = {}
        pool, forms = [], []
        for o in self.pool:
            form = settled.get(o.mention_id)
            if form is None:
                o = _saved_form(o)
                form = _obs_json(o)
            pool.append(o)
            forms.append(form)
            saved[o.mention_id] = form
        self.pool = pool
        self.settled = saved
        return {
            "bucket": self.bucket,
            "total": self.total,
            "concerning": self.concerning,
            "recent": self.recent,
            "base_total": self.base_total.as_json(),
            "base_concerning": self.base_concerning.as_json(),
            "tail": self.tail.as_json(),
            "terms": self.terms.as_json(),
            "pool": forms,
            "last_volume_open": self.last_volume_open.isoformat()
            if self.last_volume_open
            else None,
            "max_mention_id": self.max_mention_id,
            "burst_now": self.burst_now,
            "burst": self.burst,
            "prints": [[f, b] for f, b in sorted(self.prints.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> BrandState:
        if not data:
            return cls()
        last = data.get("last_volume_open")
        pool = [_obs_from_json(o) for o in data.get("pool", [])]
        return cls(
            bucket=int(data.get("bucket", -1)),
            total=int(data.get("total", 0)),
            concerning=int(data.get("concerning", 0)),
            recent=[int(v) for v in data.get("recent", [])],
            base_total=Baseline.from_json(data.get("base_total")),
            base_concerning=Baseline.from_json(data.get("base_concerning")),
            tail=LiftTail.from_json(data.get("tail")),
            terms=TermStats.from_json(data.get("terms")),
            pool=pool,
            last_volume_open=datetime.fromisoformat(last) if last else None,
            max_mention_id=int(data.get("max_mention_id", 0)),
            burst_now=int(data.get("burst_now", 0)),
            burst=[int(v) for v in data.get("burst", [])],
            prints={int(f): int(b) for f, b in data.get("prints", [])},
            settled={o.mention_id: _obs_json(o) for o in pool},
        )


def _saved_form(o: Observation) -> Observation:
    """The observation as `_obs_from_json(_obs_json(o))` rebuilds it (usually `o` itself)."""
    # The words are the same set either way; nothing downstream depends on a set's order.
    # Type cues are not saved: both forms read them again from the same shortened text.
    return replace(
        o, title=o.title[:300], text=o.text[:500], risk=float(round(o.risk, 4)), cues=None
    )


def _obs_json(o: Observation) -> dict[str, Any]:
    return {
        "id": o.mention_id,
        "brand": o.brand,
        "at": o.at.isoformat(),
        "source": o.source,
        "kind": o.source_kind,
        "author": o.author,
        "followers": o.followers,
        "verified": o.verified,
        "news": o.news,
        "url": o.url,
        "story": o.story_key,
        "title": o.title[:300],
        "text": o.text[:500],
        "category": o.category,
        "dissatisfied": o.dissatisfied,
        "risk": round(o.risk, 4),
        "words": sorted(o.words),
        "rk": o.reach_known,
        "fp": o.fingerprint,
    }


def _obs_from_json(d: dict[str, Any]) -> Observation:
    return Observation(
        mention_id=int(d["id"]),
        brand=str(d["brand"]),
        at=datetime.fromisoformat(d["at"]),
        source=str(d["source"]),
        source_kind=str(d["kind"]),
        author=str(d["author"]),
        followers=int(d["followers"]),
        verified=bool(d["verified"]),
        news=bool(d["news"]),
        url=str(d["url"]),
        story_key=str(d["story"]),
        title=str(d["title"]),
        text=str(d["text"]),
        category=str(d["category"]),
        dissatisfied=bool(d["dissatisfied"]),
        risk=float(d["risk"]),
        words=frozenset(d["words"]),
        reach_known=bool(d.get("rk", True)),
        fingerprint=int(d.get("fp", 0)),
    )


class Detector:
    """Runs the rules over one brand's new mentions; mutates the state and the incidents."""

    def __init__(self, rules: DetectionRules) -> None:
        self.rules = rules
        self._bucket_s = rules.bucket.total_seconds()
        self._duplicate_buckets = int(rules.duplicate_window.total_seconds() // self._bucket_s)

    def process(
        self,
        state: BrandState,
        incidents: list[ActiveIncident],
        observations: Iterable[Observation],
        now: datetime,
    ) -> list[ActiveIncident]:
        """Feed mentions (time-ordered) through; returns the incidents opened by them.

        Mentions with ids the state has already seen are skipped, so a step run twice on the
        same batch changes nothing.
        """
        opened: list[ActiveIncident] = []
        seen = state.max_mention_id
        fresh = [o for o in observations if o.mention_id > seen]
        for obs in sorted(fresh, key=lambda o: (o.at, o.mention_id)):
            state.max_mention_id = max(state.max_mention_id, obs.mention_id)
            new = self._one(state, incidents, obs, now)
            if new is not None:
                incidents.append(new)
                opened.append(new)
        return opened

    # the steps --------------------------------------------------------------------------

    def _one(
        self, state: BrandState, incidents: list[ActiveIncident], obs: Observation, now: datetime
    ) -> ActiveIncident | None:
        rules = self.rules
        moment = min(obs.at, now)
        self._roll(state, self._bucket_of(moment))
        concerning = obs.concerning(rules.risk_threshold)
        # Only concerning mentions make spikes, so only theirs are compared for copies.
        duplicate = concerning and self._seen_before(state, obs)
        if not duplicate:
            state.total += 1
            if concerning:
                state.burst_now += 1
        target = self._best_match(state, incidents, obs, concerning, moment)
        if target is not None:
            # Explained by an incident already: it must not make the volume test fire again.
            self._join(target, obs)
            return None
        if duplicate:
            # A copy of a post already counted: it may join a story, never make one.
            return None
        if concerning:
            state.concerning += 1
        state.terms.observe(obs.words)
        if not concerning:
            return None
        if self._has_reach(obs):
            return self._open(state, obs, now, trigger="reach", by_volume=False)
        verdict = self._volume_spike(state, obs, moment)
        if verdict is not None and not self._cooling(state, incidents, obs, now):
            state.last_volume_open = now
            return self._open(state, obs, now, trigger=f"volume: {verdict.describe()}")
        state.pool.append(obs)
        if state.pool_floor is not None and obs.at < state.pool_floor:
            state.pool_floor = obs.at
        self._trim_pool(state, moment)
        return None

    def _seen_before(self, state: BrandState, obs: Observation) -> bool:
        """Whether the same text came in within `duplicate_window`; remembers this one."""
        if not obs.fingerprint:
            return False
        prints = state.prints
        last = prints.get(obs.fingerprint)
        prints[obs.fingerprint] = state.bucket
        return last is not None and state.bucket - last <= self._duplicate_buckets

    def _bucket_of(self, moment: datetime) -> int:
        return int((moment - _EPOCH).total_seconds() // self._bucket_s)

    def _slot_of(self, bucket: int) -> tuple[int, bool]:
        """(hour of day, weekend?) of a bucket."""
        start = _EPOCH + timedelta(seconds=bucket * self._bucket_s)
        return start.hour, start.weekday() >= 5

    def _roll(self, state: BrandState, bucket: int) -> None:
        """Close the current bucket (and any empty ones) when time moves past it."""
        if state.bucket < 0:
            state.bucket = bucket
            return
        if bucket <= state.bucket:
            return  # late mentions count in the open bucket
        spike = self.rules.spike
        hour, weekend = self._slot_of(state.bucket)
        shape, usual = state.base_concerning.shape_and_mean(hour, spike, weekend)
        gap = bucket - state.bucket - 1
        # The tail sees every concerning mention (stories' too, copies aside): how the brand's
        # traffic behaves, whatever detection made of it; the bucket alone and with the ones
        # before it, as the spike test reads them.
        # (Not in the brand's first `prior_buckets`: the level is still the prior's guess.)
        if state.base_concerning.weight >= spike.prior_buckets:
            n = min(self.rules.window_buckets, 1 + len(state.burst))
            window = state.burst_now + sum(state.burst[: n - 1])
            state.tail.learn(
                state.bucket,
                max(lift(state.burst_now, usual), lift(window, usual * n)),
                spike,
                empty_after=gap,
            )
        # Mentions that joined a story are not the brand's usual chatter, but leaving them all
        # out would sink the baseline while a long story lasts (and the brand would look in a
        # burst for ever): they count up to the usual level, never above it.
        concerning = max(state.concerning, min(state.burst_now, math.floor(usual + 0.5)))
        for base, count in (
            (state.base_total, state.total),
            (state.base_concerning, concerning),
        ):
            spiked = False
            if count >= spike.min_count and base.weight >= spike.prior_buckets:
                # A spike is not the new normal: learn it only up to where it starts to count.
                # (The first `prior_buckets` are learnt in full: the level is the prior's
                # guess until then, and a brand's first hour is how it is, not a spike.)
                shape, mean = base.shape_and_mean(hour, spike, weekend)
                cap = threshold(shape, mean, spike) - 1
                spiked = count > cap
                count = min(count, cap)
            base.learn(float(count), hour, spike, weekend=weekend, spiked=spiked)
        if gap > 0:
            # Empty buckets are learnt in one step; the hourly profile sees only the real ones.
            hour, weekend = self._slot_of(bucket - 1)
            state.base_total.learn(0.0, hour, spike, empty_before=gap - 1, weekend=weekend)
            state.base_concerning.learn(0.0, hour, spike, empty_before=gap - 1, weekend=weekend)
        keep = self.rules.window_buckets - 1
        state.recent = ([0] * min(gap, keep) + [state.concerning] + state.recent)[:keep]
        keep_burst = self.rules.burst_buckets - 1
        state.burst = ([0] * min(gap, keep_burst) + [state.burst_now] + state.burst)[:keep_burst]
        state.bucket = bucket
        state.total = 0
        state.concerning = 0
        state.burst_now = 0
        state.cuts.clear()
        if len(state.prints) > 64 and bucket % 6 == 0:
            oldest = bucket - self._duplicate_buckets
            state.prints = {f: b for f, b in state.prints.items() if b >= oldest}

    def _volume_spike(
        self, state: BrandState, obs: Observation, moment: datetime
    ) -> SpikeVerdict | None:
        """A spike of concerning mentions that is sustained: a story builds over buckets, while
        a bot's scheduled burst or one viral post fills one bucket and is gone. The bucket
        fires when the bucket before was already raised (or at once when the count is beyond
        doubt: twice what the brand's calibration asks); the last few buckets together fire
        when at least two of them were raised; all mentions fire with a concerning share.

        A story that says what it is needs less: when `min_count` authors of the last few
        buckets name the same kind of trouble as this post ("data breach", "is down"), the
        bucket or the last few buckets fire at once, at `_NAMED_EASING` times the rule's
        p-value, whatever the brand's calibrated lift (which measures its counts, not its
        texts)."""
        spike = self.rules.spike
        hour, weekend = moment.hour, moment.weekday() >= 5
        shape, mean = state.base_concerning.shape_and_mean(hour, spike, weekend)
        raised = max(2.0, spike.min_ratio * mean)
        previous = state.recent[0] if state.recent else 0
        p_value = spike.p_value
        level = state.tail.limit(state.bucket, spike)
        window = state.concerning + sum(state.recent)
        counts = [state.concerning, *state.recent]
        # The last few buckets together, against as many buckets' worth of baseline.
        n = len(counts)
        if state.base_concerning.weight >= spike.prior_buckets:
            # Counts alone say nothing until the level is the brand's own (see `_roll`).
            verdict = self._judge(state, state.concerning, shape, mean, p_value, level)
            if verdict and (
                previous >= raised or lift(state.concerning, mean) >= level + _EXTREME_LIFT
            ):
                return verdict
            if window > state.concerning and sum(1 for c in counts if c >= raised) >= 2:
                verdict = self._judge(state, window, shape * n, mean * n, p_value, level)
                if verdict:
                    return verdict
            if previous >= raised and state.concerning >= self.rules.min_share * state.total:
                shape_t, mean_t = state.base_total.shape_and_mean(hour, spike, weekend)
                verdict = self._judge(state, state.total, shape_t, mean_t, p_value, level)
                if verdict:
                    return verdict
        # While the brand's level is still mostly the prior's guess (its first day), a story
        # that names itself needs the rule's own p-value: its usual words are not known yet.
        named = spike.p_value * (1.0 if self._young(state) else _NAMED_EASING)
        verdicts = [
            v
            for v in (
                self._judge(state, state.concerning, shape, mean, named),
                self._judge(state, window, shape * n, mean * n, named),
            )
            if v is not None
        ]
        # The text is read last: it is the costly part, and rarely needed.
        kind = self._cue_of(obs) if verdicts else None
        if kind is not None and self._named_together(state, kind, obs, moment, n):
            return min(verdicts, key=lambda v: v.p_value)
        return None

    def _judge(
        self,
        state: BrandState,
        count: int,
        shape: float,
        mean: float,
        p_value: float,
        level: float = 0.0,
    ) -> SpikeVerdict | None:
        """`judge`'s verdict when it is a spike at least `level` (decades of lift) above the
        mean, else None; the tail is read once the count reaches the bucket's smallest spike
        (found once per bucket and test)."""
        spike = self.rules.spike
        if count < spike.min_count or count < spike.min_ratio * mean:
            return None
        key = (shape, mean, p_value, level)
        need = state.cuts.get(key)
        if need is None:
            need = state.cuts[key] = max(
                smallest_spike(shape, mean, spike, p_value), least_count(mean, level)
            )
        if count < need:
            return None
        return judge(count, shape, mean, spike, p_value)

    def _named_together(
        self,
        state: BrandState,
        kind: IncidentType,
        obs: Observation,
        moment: datetime,
        buckets: int,
    ) -> bool:
        """Whether at least `min_count` authors of the last `buckets` buckets' unassigned
        posts (copies never are) name the same kind of trouble (`kind`) as this one."""
        since = moment - self.rules.bucket * buckets
        authors = {obs.author}
        for o in state.pool:
            if o.at >= since and o.author not in authors and self._cue_of(o) == kind:
                authors.add(o.author)
        return len(authors) >= self.rules.spike.min_count

    def _cue_of(self, obs: Observation) -> IncidentType | None:
        """The mention's clearest kind of trouble, from its text's cues."""
        cues = obs.type_cues(self.rules.risk_threshold)
        return dominant_cue({IncidentType(k): w for k, w in cues}) if cues else None

    def _young(self, state: BrandState) -> bool:
        """Whether the brand has less than a day of history: its usual level (and its usual
        words) are still mostly the prior's guess."""
        return state.base_concerning.weight < self.rules.spike.half_life_buckets

    def _another_story(self, obs: Observation, profile: IncidentProfile) -> bool:
        """A mention plainly about another kind of trouble than the story's own evidence."""
        if not profile.evidence:
            return False
        kind = self._cue_of(obs)
        if kind is None:
            return False
        lead, weight = min(profile.evidence.items(), key=lambda kv: (-kv[1], kv[0]))
        return lead != kind.value and profile.evidence.get(kind.value, 0.0) < 0.5 * weight

    def _in_burst(self, state: BrandState, moment: datetime) -> bool:
        """Whether the brand's concerning volume (joined mentions too) is well above usual."""
        rules = self.rules
        if self._young(state):
            # Less than a day of history: "usual" is still mostly the prior, and a story
            # that started now would hold the brand in a burst for as long as it is learning.
            return False
        n = rules.burst_buckets
        count = state.burst_now + sum(state.burst)
        _, mean = state.base_concerning.shape_and_mean(
            moment.hour, rules.spike, moment.weekday() >= 5
        )
        return count >= max(rules.spike.min_count, rules.burst_ratio * mean * n)

    def _cooling(
        self,
        state: BrandState,
        incidents: Sequence[ActiveIncident],
        obs: Observation,
        now: datetime,
    ) -> bool:
        """Within `cooldown` of the last volume opening, unless this mention is plainly another
        kind of trouble than every live story (an outage, then a data leak)."""
        last = state.last_volume_open
        if last is None or now - last >= self.rules.cooldown:
            return False
        live = [i for i in incidents if i.profile.brand == obs.brand]
        return not (
            live
            and obs.type_cues(self.rules.risk_threshold)
            and all(self._another_story(obs, i.profile) for i in live)
        )

    def _has_reach(self, obs: Observation) -> bool:
        rules = self.rules
        if obs.risk < rules.reach_incident_risk:
            return False
        if obs.news:
            return True
        # A big account's grumble is not a crisis by itself: it must say what went wrong
        # (a type cue: "data breach", "dragged off", "recall"), not only sound risky.
        big = obs.followers >= rules.reach_followers
        verified = obs.verified and obs.followers >= rules.reach_followers // 10
        return (big or verified) and bool(obs.type_cues(rules.risk_threshold))

    def _similarity(self, state: BrandState, obs: Observation, profile: IncidentProfile) -> float:
        rules = self.rules
        if obs.story_key and obs.story_key in profile.story_keys:
            return 100.0
        terms = state.terms
        counted: list[float] = []
        for word in obs.words & profile.terms.keys():
            idf = terms.idf(word)
            if idf >= rules.min_idf:
                counted.append(idf)
        # fsum is exact, so the total does not depend on the set's (hash-seeded) order; a plain
        # sum could differ in the last bit between runs and flip a comparison at `join_weight`.
        weight = math.fsum(counted)
        if weight >= rules.join_weight:
            # Shared outrage words do not make an outage and a data leak one story.
            return 0.0 if self._another_story(obs, profile) else weight
        if obs.concerning(rules.risk_threshold) and profile.evidence:
            # The same kind of trouble as a typed story ("down" phrases for an outage).
            kind = profile.type
            if kind != IncidentType.OTHER and self._cue_of(obs) == kind:
                return rules.join_weight
        return weight

    def _best_match(
        self,
        state: BrandState,
        incidents: Sequence[ActiveIncident],
        obs: Observation,
        concerning: bool,
        moment: datetime,
    ) -> ActiveIncident | None:
        """The incident this mention belongs to: the most similar one (shared link, distinctive
        words, same kind of trouble) within `group_window`; else, for a concerning mention while
        the brand is in a burst, its live story (unless the mention is plainly another kind of
        trouble: two stories at once stay two)."""
        rules = self.rules
        best: ActiveIncident | None = None
        best_score = 0.0
        live: ActiveIncident | None = None
        live_key: tuple[float, datetime] | None = None
        for incident in incidents:
            profile = incident.profile
            if profile.brand != obs.brand:
                continue
            gap = obs.at - profile.last_at
            if gap > rules.group_window:
                continue
            score = self._similarity(state, obs, profile)
            if score >= rules.join_weight and score > best_score:
                best, best_score = incident, score
            if concerning and gap <= rules.story_gap:
                key = (score, profile.last_at)
                if live_key is None or key > live_key:
                    live, live_key = incident, key
        if best is not None:
            return best
        if live is None or not self._in_burst(state, moment):
            return None
        return None if self._another_story(obs, live.profile) else live

    def _join(self, incident: ActiveIncident, obs: Observation) -> None:
        profile = incident.profile
        profile.add(obs, self.rules.risk_threshold)
        incident.joined.append(obs.mention_id)
        self._reassess(incident, obs.at)
        if profile.mention_count in _MILESTONES:
            themes, fresh = profile.talk_now(4)
            profile.note(
                obs.at,
                f"{profile.mention_count} mentions",
                incident.severity,
                themes=themes,
                new_themes=fresh,
            )

    def _reassess(self, incident: ActiveIncident, at: datetime) -> None:
        severity = incident.profile.severity(self.rules.severity)
        if severity.level > incident.severity.level:
            incident.escalations.append((incident.severity, severity))
            incident.severity = severity
            themes, fresh = incident.profile.talk_now(4)
            incident.profile.note(
                at, f"escalated to {severity.value}", severity, themes=themes, new_themes=fresh
            )

    def _open(
        self,
        state: BrandState,
        seed: Observation,
        now: datetime,
        *,
        trigger: str,
        by_volume: bool = True,
    ) -> ActiveIncident:
        self._trim_pool(state, min(seed.at, now))
        probe = IncidentProfile.starting_with(seed, self.rules.risk_threshold)
        related = [
            o for o in state.pool if self._similarity(state, o, probe) >= self.rules.join_weight
        ]
        if by_volume:
            # The burst that made the spike is the story, whatever words its posts use: every
            # pooled mention (the pool holds the spike's buckets) joins, unless it plainly
            # names another kind of trouble than the seed and its related mentions (an
            # outage's first posts, pooled while a leak opens, stay out for their own story).
            for o in sorted(related, key=lambda o: (o.at, o.mention_id)):
                probe.add(o, self.rules.risk_threshold)
            close = {o.mention_id for o in related}
            related += [
                o
                for o in state.pool
                if o.mention_id not in close and not self._another_story(o, probe)
            ]
        chosen = {o.mention_id for o in related}
        state.pool = [o for o in state.pool if o.mention_id not in chosen]
        profile = IncidentProfile.starting_with(seed, self.rules.risk_threshold)
        for o in sorted(related, key=lambda o: o.at):
            profile.add(o, self.rules.risk_threshold)
        severity = profile.severity(self.rules.severity)
        profile.note(
            min(seed.at, now),
            "opened",
            severity,
            themes=profile.themes(4),
            trigger=trigger.split(":")[0],
        )
        incident = ActiveIncident(
            id=None,
            profile=profile,
            severity=severity,
            opened_at=now,
            trigger=trigger,
            joined=[seed.mention_id, *sorted(chosen)],
        )
        return incident

    def _trim_pool(self, state: BrandState, moment: datetime) -> None:
        """Drop what is older than the pool's horizon, then all but the newest `_POOL_LIMIT`.

        Runs once per concerning mention, so it looks at the whole pool only when the floor
        says something may have expired: a full pool otherwise just drops its first entries.
        """
        horizon = moment - self.rules.bucket * self.rules.pool_buckets
        pool = state.pool
        if state.pool_floor is not None and state.pool_floor >= horizon:
            del pool[:-_POOL_LIMIT]  # the floor stays a lower bound, which is all it promises
            return
        kept = [o for o in pool if o.at >= horizon][-_POOL_LIMIT:]
        state.pool = kept
        state.pool_floor = min((o.at for o in kept), default=None)


# A bucket fires on its own, without a raised bucket before it, at this much lift (in
# decades) past what the brand's calibration asks: twice the count a spike needs.
_EXTREME_LIFT = 0.3
_NAMED_EASING = 10.0
_MILESTONES = frozenset({10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000})


def rules_summary(rules: DetectionRules) -> dict[str, Any]:
    """The thresholds in force, for reports (`listener backtest`)."""
    s = rules.spike
    return {
        "bucket_seconds": rules.bucket.total_seconds(),
        "min_count": s.min_count,
        "min_ratio": s.min_ratio,
        "p_value": s.p_value,
        "reach_followers": rules.reach_followers,
        "reach_incident_risk": rules.reach_incident_risk,
        "half_life_hours": round(s.half_life_buckets * rules.bucket.total_seconds() / 3600, 2),
        "false_alarms_per_month": rules.false_alarms_per_month,
        "calibration_window_days": round(
            s.calibration_buckets * rules.bucket.total_seconds() / 86400, 2
        ),
        "story_gap_minutes": rules.story_gap.total_seconds() / 60,
        "burst_ratio": rules.burst_ratio,
        "duplicate_window_minutes": rules.duplicate_window.total_seconds() / 60,
    }
