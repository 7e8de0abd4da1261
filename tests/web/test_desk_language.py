"""The desk in a PR person's words: verdicts with plain reasons, channel names, durations,
settings as TOML, and news articles left to incidents (no customer reply, no case)."""

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.app import make_listener
from listener.clock import ReplayClock
from listener.domain import Category, Channel, ComplaintReason, Mention, Score
from listener.outreach.drafting import Drafter
from listener.outreach.news import is_news_article
from listener.settings import BrandSettings, OutreachSettings, load_settings
from listener.store import DraftFilter
from listener.web.routes_admin import as_toml, redacted_settings
from listener.web.wording import channel_text, duration_text, verdict
from tests.support.paths import REPO

BRAND = BrandSettings(name="O2", terms=["O2"], support_url="https://o2.example/help")
ANGRY = Score(0.92, True, 0.7, Category.COMPLAINT, ComplaintReason.BILLING)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=4), "4 h"),
        (timedelta(days=3), "3 days"),
        (timedelta(minutes=2), "2 min"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(hours=26), "26 h"),
        (5400.0, "90 min"),
        (None, "unknown"),
    ],
)
def test_durations_read_as_people_say_them(value: object, text: str) -> None:
    assert duration_text(value) == text  # type: ignore[arg-type]


def test_channels_are_named_as_people_name_them() -> None:
    assert channel_text(Channel.MANUAL, "https://forum.example/t/1") == (
        "Post by hand at https://forum.example/t/1"
    )
    assert channel_text(Channel.X, "@ann") == "Reply on X to @ann"
    assert channel_text(Channel.EMAIL, "ann@example.com") == "Email to ann@example.com"


def test_a_verdict_gives_the_reasons_a_person_would() -> None:
    mention = Mention("x", "1", "charged twice", author="@ann", author_followers=250_000)
    found = verdict(mention, ANGRY)
    assert found.text == "Very unhappy customer"
    assert found.reasons == (
        "angry about billing",
        "widely followed author",
        "could be part of a wider incident",
    )
    unknown = verdict(Mention("x", "2", "meh", author="@bo"), ANGRY)
    assert "widely followed author" not in unknown.reasons
    spam = Score(0.8, True, 0.1, Category.SPAM_COMPLAINT, ComplaintReason.SPAM)
    assert verdict(mention, spam).reasons[0] == "spam texts or calls"


def article(url: str) -> Mention:
    return Mention(
        "news", "1", "O2 leaks data", author="Dana Reporter", url=url, source_kind="feed"
    )


def test_news_articles_get_no_customer_reply_unless_asked() -> None:
    story = article("https://technews.example/2026/11/o2-leak")
    assert is_news_article(story, ANGRY, ["technews.example"])
    assert is_news_article(article("https://www.reuters.com/tech/o2"), ANGRY)
    assert not is_news_article(article("https://forum.example/t/1"), ANGRY, ["technews.example"])
    quiet = Drafter(None, OutreachSettings(), news_domains=["technews.example"])
    assert quiet.plan(story, BRAND, ANGRY) is None
    assert quiet.plan(article("https://forum.example/t/1"), BRAND, ANGRY) is not None
    asked = Drafter(
        None, OutreachSettings(news_as_customers=True), news_domains=["technews.example"]
    )
    assert asked.plan(story, BRAND, ANGRY) is not None


def test_the_demo_news_story_opens_an_incident_but_no_case_or_reply(tmp_path: Path) -> None:
    environ = {
        "LISTENER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "LISTENER_SCORING__WORKERS": "0",
        "LISTENER_SERVICE__FETCH_WORKER": "false",
    }
    settings = load_settings(REPO / "settings.toml", environ=environ)
    listener = make_listener(settings, clock=ReplayClock(datetime(2031, 5, 17, tzinfo=UTC)))
    try:
        listener.poll()
        drafts = listener.store.drafts(DraftFilter(), limit=100)
        cases = listener.store.outreach.cases()
    finally:
        listener.close()
    recipients = {d.recipient for d in drafts}
    assert drafts and not any("technews.example" in r for r in recipients)
    authors = {c.author for c in cases}
    assert cases and not any("dana" in a.lower() for a in authors), authors


def test_the_admin_view_is_the_settings_toml_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///l.db"\n\n[[brands]]\nname = "O2"\nterms = ["O2"]\n\n'
        '[service]\nmax_concurrent_polls = 3\n\n[outreach]\ncap_period = "2m"\n'
        'first_response_sla = "4h"\n\n[email]\nsender = "care@o2.example"\n'
        'password_env = "SMTP_PASSWORD"\nusername = "care"\n'
    )
    settings = load_settings(path, environ={"LISTENER_EMAIL__SMTP_HOST": "smtp.example"})
    text = as_toml(redacted_settings(settings, "postgresql+psycopg://u:***@db:5432/l"))
    parsed = tomllib.loads(text)
    assert parsed["outreach"] == {"cap_period": "2m", "first_response_sla": "4h"}
    assert parsed["email"]["password_env"] == "SMTP_PASSWORD"
    assert parsed["email"]["smtp_host"] == "smtp.example"
    assert parsed["database"]["url"] == "postgresql+psycopg://u:***@db:5432/l"
    assert "PT2M" not in text and "{" not in text and "base_dir" not in text


def test_incident_reasons_and_reach_read_as_words() -> None:
    from listener.web.wording import reach_text, trigger_text

    assert trigger_text("reach") == "a widely followed author or a news site wrote about it"
    assert trigger_text("volume: 12 in the bucket against 1.80 expected (p=0.0001)") == (
        "a burst of 12 mentions where about 1.8 were expected"
    )
    assert reach_text(None) == reach_text(0) == "reach unknown"
    assert reach_text(250_000) == "250k followers"
    assert reach_text(1200) == "1,200 followers"
