"""Incident types from phrases across a story's mentions, not from one word."""

from __future__ import annotations

import pytest

from listener.incidents.types import IncidentType, mention_cues, story_type


@pytest.mark.parametrize(
    "text",
    [
        "my data is so slow today, can't even load a map",
        "mobile data keeps cutting out on the train",
        "down to my last 1GB of data already",
        "feeling down today and the signal keeps dropping",
        "they really let me down with the upgrade",
        "the engineer fixed the water leak under the sink",
        "boiler still leaking after the visit, annoying",
        "game keeps crashing after the patch, ugh",
        "calm down everyone, it is only a price list",
    ],
)
def test_everyday_words_are_not_evidence_of_a_crisis(text: str) -> None:
    cues = mention_cues(text)
    assert IncidentType.PRIVACY not in cues
    assert IncidentType.OUTAGE not in cues


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Voxa leaked my personal details, my bank details are online", IncidentType.PRIVACY),
        ("data breach: customer data exposed online", IncidentType.PRIVACY),
        ("my data was leaked by the network, great", IncidentType.PRIVACY),
        ("regulators are asked to look into the data leak", IncidentType.PRIVACY),
        ("is Voxa down for everyone? no service since 2pm", IncidentType.OUTAGE),
        ("the app is down again, can't log in", IncidentType.OUTAGE),
        ("security dragged a passenger off the plane", IncidentType.CONDUCT),
        ("they are recalling the kettles, one caught fire", IncidentType.SAFETY),
        ("overcharged again, hidden fees everywhere", IncidentType.PRICING),
        ("another scam text pretending to be them, phishing", IncidentType.SPAM),
    ],
)
def test_phrases_say_what_went_wrong(text: str, kind: IncidentType) -> None:
    cues = mention_cues(text)
    assert max(cues, key=lambda k: cues[k]) is kind


def test_a_story_is_typed_by_its_mentions_together() -> None:
    # Two posts saying "outage" in a big story of complaints do not make it an outage.
    assert story_type({IncidentType.OUTAGE.value: 3.0}, mentions=120) is IncidentType.OTHER
    # One weak phrase is not enough either; one strong one or several are.
    assert story_type({IncidentType.PRIVACY.value: 1.0}, mentions=3) is IncidentType.OTHER
    assert story_type({IncidentType.PRIVACY.value: 12.0}, mentions=40) is IncidentType.PRIVACY
    # Two kinds neck and neck: no type rather than a wrong one; a clear lead wins.
    mixed = {IncidentType.PRIVACY.value: 10.0, IncidentType.OUTAGE.value: 9.0}
    assert story_type(mixed, mentions=30) is IncidentType.OTHER
    lead = {IncidentType.PRIVACY.value: 20.0, IncidentType.SPAM.value: 6.0}
    assert story_type(lead, mentions=30) is IncidentType.PRIVACY


@pytest.mark.parametrize(
    ("story", "kind"),
    [
        # The bundled demo's two news stories: one article each opens its incident.
        (
            "Nimbus Mobile is sending customers' phone numbers to every website they visit. "
            "A security researcher found that Nimbus Mobile injects a header carrying the "
            "subscriber's phone number into web requests; privacy regulators are being asked "
            "to look into the data leak.",
            IncidentType.PRIVACY,
        ),
        (
            "Nimbus Mobile outage: customers report no signal across the north. Thousands of "
            "Nimbus Mobile customers say the network is down since early morning.",
            IncidentType.OUTAGE,
        ),
    ],
)
def test_one_clear_news_story_types_its_incident(story: str, kind: IncidentType) -> None:
    cues = mention_cues(story)
    assert story_type({k.value: v for k, v in cues.items()}, mentions=1) is kind
