"""Scorers never raise, never reorder, and say the same thing twice: whatever the text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listener.domain import Mention
from listener.scoring import Scorer, make_scorer
from listener.settings import ScoringSettings

SCORERS = {
    "default": ScoringSettings(),
    "lexicon": ScoringSettings(model="lexicon"),
}


@pytest.fixture(scope="module", params=sorted(SCORERS))
def scorer(request: pytest.FixtureRequest) -> Scorer:
    return make_scorer(SCORERS[request.param])


def mention(text: str, **fields: object) -> Mention:
    return Mention(source="test", external_id="1", text=text, **fields)  # type: ignore[arg-type]


HOSTILE = [
    "",
    " ",
    "\x00\x01\x02\x1b[31m\x7f",
    "<script>alert('x')</script><b>worst</b> &amp; &#0; &#xD800; &bogus;",
    "😡" * 500,
    "\u202eesrever\u200b\ufeff",
    "a" * 100_000,
    "?" * 10_000,
    "<" * 5000 + ">" * 5000,
    "http://" + "x" * 5000,
    "\ud800 lone surrogate",
    "I " * 50_000,
]


def test_hostile_texts_score_without_raising(scorer: Scorer) -> None:
    results = scorer.score_batch([mention(text) for text in HOSTILE])
    assert len(results) == len(HOSTILE)
    for result in results:
        assert 0.0 <= result.dissatisfaction <= 1.0
        assert 0.0 <= result.incident_risk <= 1.0


def test_hostile_texts_are_really_scored_not_given_up_on(scorer: Scorer) -> None:
    for result in scorer.score_batch([mention(text) for text in HOSTILE]):
        assert not any(s.name.startswith("scoring failed") for s in result.signals)


def test_a_one_megabyte_text_scores(scorer: Scorer) -> None:
    text = ("@Acme still waiting for my refund, worst service. " * 21_000)[:1_000_000]
    (result,) = scorer.score_batch([mention(text, title="x" * 10_000)])
    assert result.dissatisfied


def test_odd_mention_fields_do_not_break_scoring(scorer: Scorer) -> None:
    odd = [
        mention("hi", url="http://[::1", author_followers=-5),
        mention("hi", url="not a url at all", author_followers=0, author_verified=None),
        mention("hi", url="https://reuters.com.evil.example/x", author_followers=10**12),
    ]
    assert len(scorer.score_batch(odd)) == 3


def test_an_empty_batch_gives_no_scores(scorer: Scorer) -> None:
    assert scorer.score_batch([]) == []


def test_one_score_per_mention_in_order(scorer: Scorer) -> None:
    texts = ["thanks @Acme, great flight", "worst service ever @Acme, still no refund"] * 300
    results = scorer.score_batch([mention(t) for t in texts])
    assert len(results) == len(texts)
    assert [r.dissatisfied for r in results] == [False, True] * 300


def test_scoring_is_deterministic(scorer: Scorer) -> None:
    texts = ["great, another 3 hour delay, thanks @Acme", "my phone number leaked", "hello"]
    first = scorer.score_batch([mention(t) for t in texts])
    again = make_scorer(
        ScoringSettings(model="lexicon" if "lexicon" in scorer.version else "default")
    ).score_batch([mention(t) for t in reversed(texts)])
    assert first == list(reversed(again))


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(max_size=400), min_size=1, max_size=8),
    followers=st.one_of(st.none(), st.integers(min_value=-10, max_value=10**10)),
)
def test_any_text_scores_in_range(texts: list[str], followers: int | None) -> None:
    for name in sorted(SCORERS):
        results = make_scorer(SCORERS[name]).score_batch(
            [mention(t, author_followers=followers) for t in texts]
        )
        assert len(results) == len(texts)
        for result in results:
            assert 0.0 <= result.dissatisfaction <= 1.0
            assert 0.0 <= result.incident_risk <= 1.0
            assert all(s.name for s in result.signals)
