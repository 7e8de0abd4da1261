"""How listener reads customers: hand-written mentions and what each scorer must say about them.

Every behaviour here holds for both the default scorer (learned model plus lexicons) and the
lexicon-only scorer, so each test runs against both.
"""

from __future__ import annotations

import pytest

from listener.domain import Category, ComplaintReason, Engagement, Mention, Score
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
    return Mention(source="test", external_id=str(abs(hash(text))), text=text, **fields)  # type: ignore[arg-type]


def score(scorer: Scorer, text: str, **fields: object) -> Score:
    return scorer.score_batch([mention(text, **fields)])[0]


def test_a_spam_complaint_is_a_dissatisfied_spam_complaint(scorer: Scorer) -> None:
    result = score(scorer, "I keep getting spam texts from Acme and they won't stop")
    assert result.dissatisfied
    assert result.category is Category.SPAM_COMPLAINT
    assert result.reason is ComplaintReason.SPAM


def test_a_privacy_complaint_carries_notable_incident_risk(scorer: Scorer) -> None:
    result = score(scorer, "Acme is sending my phone number to every website I visit")
    ordinary = score(scorer, "still on hold with @Acme after 2 hours")
    assert result.dissatisfied
    assert result.category is Category.PRIVACY
    assert result.reason is ComplaintReason.PRIVACY
    assert result.incident_risk >= 0.25
    assert result.incident_risk > ordinary.incident_risk


def test_waiting_on_hold_is_a_service_or_delay_complaint(scorer: Scorer) -> None:
    result = score(scorer, "still on hold with @Acme after 2 hours")
    assert result.dissatisfied
    assert result.category is Category.COMPLAINT
    assert result.reason in (ComplaintReason.SERVICE, ComplaintReason.DELAY)


def test_thanks_for_a_great_flight_is_praise(scorer: Scorer) -> None:
    result = score(scorer, "thanks @Acme, great flight")
    assert not result.dissatisfied
    assert result.category is Category.PRAISE
    assert result.reason is None
    assert result.dissatisfaction < 0.3


def test_sarcastic_praise_about_a_delay_is_a_complaint(scorer: Scorer) -> None:
    result = score(scorer, "great, another 3 hour delay, thanks @Acme")
    assert result.dissatisfied
    assert result.category is Category.COMPLAINT
    assert result.reason is ComplaintReason.DELAY


def test_a_clear_complaint_is_dissatisfied_with_its_reason(scorer: Scorer) -> None:
    result = score(scorer, "@Acme you charged me twice for the same order and still no refund")
    assert result.dissatisfied
    assert result.category is Category.COMPLAINT
    assert result.reason is ComplaintReason.BILLING


def test_an_outage_report_is_an_outage(scorer: Scorer) -> None:
    result = score(scorer, "@AcmeMobile no signal all day again, is the network down?")
    assert result.dissatisfied
    assert result.category is Category.OUTAGE
    assert result.reason is ComplaintReason.OUTAGE


@pytest.mark.parametrize(
    "text",
    [
        "@Acme la app no funciona desde ayer, pésimo servicio",
        "@Acme l'application ne marche pas depuis ce matin, c'est scandaleux",
        "@Acme die App funktioniert nicht, seit Tagen keine Antwort, Frechheit",
        "@Acme o aplicativo não funciona e ninguém responde, que vergonha",
        "@Acme l'app non funziona da ieri, vergogna",
    ],
)
def test_a_non_english_complaint_is_dissatisfied(scorer: Scorer, text: str) -> None:
    result = score(scorer, text)
    assert result.dissatisfied
    assert result.category.is_complaint


def test_a_plain_question_is_a_question(scorer: Scorer) -> None:
    result = score(scorer, "@Acme how do I change the email address on my account?")
    assert not result.dissatisfied
    assert result.category is Category.QUESTION


def test_a_news_report_from_a_news_site_is_news_with_risk(scorer: Scorer) -> None:
    result = score(
        scorer,
        "Acme confirms data breach exposing millions of customer records",
        title="Acme confirms data breach",
        url="https://www.reuters.com/technology/acme-breach-2026-11-23/",
    )
    assert result.category is Category.NEWS
    assert result.incident_risk >= 0.6


def test_reach_and_engagement_raise_incident_risk(scorer: Scorer) -> None:
    text = "@Acme your app is down again and nobody is answering"
    quiet = score(scorer, text, author_followers=40)
    loud = score(
        scorer,
        text,
        author_followers=2_500_000,
        author_verified=True,
        engagement=Engagement(reposts=900, likes=4000),
    )
    assert loud.incident_risk > quiet.incident_risk + 0.2
    names = [s.name for s in loud.signals]
    assert "author reach 2.5M" in names
    assert "verified author" in names


def test_signals_explain_the_score(scorer: Scorer) -> None:
    result = score(scorer, "still on hold with @Acme after 2 hours")
    assert any(s.name == 'cue: "on hold"' and s.weight > 0 for s in result.signals)
    praise = score(scorer, "thanks @Acme, great flight")
    assert any(s.name.startswith("positive sentiment") and s.weight < 0 for s in praise.signals)


def test_every_score_names_its_scorer_and_stays_in_range(scorer: Scorer) -> None:
    texts = ["worst airline ever", "love it", "", "?", "news", "@Acme hi"]
    for result in scorer.score_batch([mention(t) for t in texts]):
        assert result.scorer == scorer.version
        assert 0.0 <= result.dissatisfaction <= 1.0
        assert 0.0 <= result.incident_risk <= 1.0
        assert result.dissatisfied == (result.dissatisfaction >= 0.5)


def test_the_threshold_comes_from_settings() -> None:
    text = "still on hold with @Acme after 2 hours"
    strict = make_scorer(ScoringSettings(model="lexicon", dissatisfied_threshold=0.99))
    lenient = make_scorer(ScoringSettings(model="lexicon", dissatisfied_threshold=0.01))
    assert not strict.score_batch([mention(text)])[0].dissatisfied
    assert lenient.score_batch([mention(text)])[0].dissatisfied
