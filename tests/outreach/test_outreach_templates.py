"""Identity and tone: every reply template names the brand and offers an opt-out on every
channel, and the page can warn about promotional phrases in a draft."""

from __future__ import annotations

import pytest

from listener.domain import Category, Channel, Mention, Score
from listener.outreach.drafting import TEMPLATE_FOR, Drafter
from listener.outreach.optouts import is_opt_out
from listener.outreach.tone import promotional_phrases
from listener.settings import BrandSettings, OutreachSettings
from tests.support.paths import REPO

TEMPLATES = sorted({*TEMPLATE_FOR.values(), "complaint"})


@pytest.fixture(scope="module")
def drafter() -> Drafter:
    return Drafter(REPO / "templates", OutreachSettings(thank_praise=True))


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("signature", ["", "Priya, Skyline care team"])
def test_every_template_names_the_brand_and_offers_an_opt_out(
    drafter: Drafter, template: str, channel: Channel, signature: str
) -> None:
    brand = BrandSettings(
        name="skyline",
        terms=["Skyline Air"],
        display_name="Skyline Air",
        support_url="https://skyline.example/help",
        signature=signature,
    )
    mention = Mention("x", "1", "my bag is lost", author="@dana", author_name="Dana")
    score = Score(0.9, True, 0.2, Category.COMPLAINT)
    text = drafter.render(template, mention, brand, score, channel)
    assert "Skyline Air" in text, text
    assert "STOP" in text, text  # how to opt out, in words the opt-out detector understands
    assert is_opt_out("STOP")
    assert promotional_phrases(text) == [], text  # customer care, not sales


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Upgrade now and get 20% off!", ["Upgrade now", "20% off"]),
        ("A limited time offer: use promo code SORRY", ["limited time", "offer", "promo code"]),
        ("We'd love to give you a discount", ["discount"]),
        ("Sorry for the trouble, we're looking into it.", []),
        ("Special DEAL for you", ["Special DEAL"]),
    ],
)
def test_promotional_phrases_are_found_as_written(text: str, found: list[str]) -> None:
    assert promotional_phrases(text) == found
