"""Recognising an opt-out: clear requests count, everyday uses of "stop" do not."""

import pytest

from listener.outreach.optouts import is_opt_out, mention_opt_out, opt_out_phrase


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("@O2 Stop!!!", "stop"),
        ("Stop please.", "stop"),
        ("please STOP", "stop"),
        ("STOPALL", "stop"),
        ("STOP. I never signed up for this", "stop"),
        ("I said STOP", "stop"),
        ("unsubscribe", "unsubscribe"),
        ("UNSUBSCRIBE ME", "unsubscribe"),
        ("How do I unsubscribe from these texts?", "unsubscribe"),
        ("@O2 stop messaging me", "stop messaging me"),
        ("Please stop texting me every single day", "stop messaging me"),
        ("stop e-mailing me", "stop messaging me"),
        ("O2 STOP SPAMMING ME", "stop messaging me"),
        ("Why won't you stop calling me?", "stop messaging me"),
        ("stop sending me marketing emails", "stop messaging me"),
        ("Don't contact me", "don't contact me"),
        ("don\u2019t contact me again", "don't contact me"),
        ("dont message me", "don't contact me"),
        ("DO NOT CONTACT ME", "don't contact me"),
        ("Do not email me ever again", "don't contact me"),
        ("never contact me again", "don't contact me"),
        ("Leave me alone", "leave me alone"),
        ("just leave me alone @SkylineAir", "leave me alone"),
        ("Remove me from your list", "remove me from your list"),
        ("please remove me from your mailing list", "remove me from your list"),
        ("take me off your list", "remove me from your list"),
        ("Delete my number from your database", "remove me from your list"),
        ("opt me out", "opt out"),
        ("I want to opt out", "opt out"),
        ("opt out of your marketing emails", "opt out"),
        ("https://t.co/x @O2 STOP", "stop"),
    ],
)
def test_a_clear_request_to_stop_contact_is_an_opt_out(text: str, kind: str) -> None:
    assert opt_out_phrase(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "I can't stop laughing at the O2 advert",
        "waiting at the bus stop and O2 has no signal",
        "BUS STOP",
        "Stop the price rises, O2!",
        "they never stop calling me about upgrades",  # a complaint, not a request
        "my O2 engineer didn't stop working until it was fixed",
        "they don't contact me back, three days now",
        "It is time to stop",
        "Non-stop problems with O2 today",
        "I want to opt out of data sharing",  # about data, not about being contacted
        "Please don't stop the 5G rollout",
        "O2 told me to leave me alone? weird bot",
        "",
        "   ",
        "stopped working again",
        "next stop: complaining to ofcom",
    ],
)
def test_everyday_uses_of_stop_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text), opt_out_phrase(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("\uff33\uff34\uff2f\uff30", "stop"),  # fullwidth
        ("\uff33\uff34\uff2f\uff30, I never signed up for this", "stop"),
        ("\U0001d412\U0001d413\U0001d40e\U0001d40f I never asked for this", "stop"),  # bold
        (
            "@O2 \uff53\uff54\uff4f\uff50 \uff4d\uff45\uff53\uff53\uff41\uff47\uff49\uff4e\uff47 me",
            "stop messaging me",
        ),
        ("ST\u200bOP", "stop"),  # a zero-width space inside the word
        ("un\u00adsubscribe", "unsubscribe"),  # a soft hyphen
        ("STOP\ufe0f", "stop"),
    ],
)
def test_compatibility_forms_and_invisible_characters_are_read_as_plain_letters(
    text: str, kind: str
) -> None:
    assert opt_out_phrase(text) == kind


def test_a_reply_opening_with_stop_under_a_thread_title_is_an_opt_out() -> None:
    assert mention_opt_out("O2 billing thread", "STOP, I never signed up") == "stop"
    assert mention_opt_out("O2 billing thread", "STOP O2") is None  # shouting about the brand
    assert mention_opt_out("", "stop at the bus stop") is None
