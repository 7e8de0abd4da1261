"""Crisis mode's pure rules: when an incident holds replies, what a held draft says, how alike
two replies are (the echo check), and where the two new answers sit in the send rule.

The whole path (the detection step holding drafts, the dispatcher, release and cancel) is in
tests/outreach/test_crisis_mode.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from listener.alerts.message import plain_text
from listener.domain import Channel
from listener.incidents.holds import hold_reason, holds_outreach, reaches_crisis, rule_hold
from listener.outreach.caps import Hold
from listener.outreach.claims import (
    Cancel,
    Claim,
    HoldForIncident,
    IncidentHold,
    Reword,
    decide_manual_send,
)
from listener.outreach.echo import SentReply, find_echo, normalise, similarity
from listener.settings import OutreachSettings
from tests.outreach.test_claim_rules import BRAND, NOW, OUTREACH, _draft, _facts, _send

TEMPLATE = (
    "{greeting}, this is Acme's care team. We know about the problem with customer data and "
    "are looking into it; we will post updates at https://acme.example/status. Reply STOP to "
    "opt out."
)
DANA = TEMPLATE.format(greeting="Hi @dana")
SAM = TEMPLATE.format(greeting="Hi Sam Lee")
REWORDED = (
    "Sam, thank you for telling us. Acme is checking whether your own account was affected "
    "and a person from our team will write to you today. Reply STOP to opt out."
)


# -- when an incident holds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "crisis", "reached"),
    [
        ("medium", "high", False),
        ("high", "high", True),
        ("critical", "high", True),
        ("low", "low", True),
        ("critical", "off", False),
    ],
)
def test_the_crisis_severity_is_a_floor_and_off_never_holds(
    severity: str, crisis: str, reached: bool
) -> None:
    assert reaches_crisis(severity, crisis) is reached


def test_the_rule_holds_an_untouched_incident_and_leaves_a_persons_choice_alone() -> None:
    assert rule_hold("", "high", "high") == "auto"
    assert rule_hold("", "medium", "high") == ""
    assert rule_hold("released", "critical", "high") == "released"  # stays released
    assert rule_hold("on", "low", "high") == "on"


def test_only_an_active_incident_holds() -> None:
    assert holds_outreach("auto", "open") and holds_outreach("on", "acknowledged")
    assert not holds_outreach("auto", "resolved") and not holds_outreach("on", "closed")
    assert not holds_outreach("released", "open") and not holds_outreach("", "open")


def test_a_held_draft_says_which_incident_and_how_bad() -> None:
    assert (
        hold_reason(12, "privacy/data breach", "Voxa", "high")
        == "held: incident #12 (Data breach at Voxa, high)"
    )


def test_the_alert_text_says_outreach_is_on_hold() -> None:
    body = {
        "kind": "incident.escalated",
        "incident_id": 3,
        "brand": "Voxa",
        "previous_severity": "medium",
        "outreach": "Routine outreach for Voxa is on hold: 41 replies held for the crisis "
        "team to release or cancel.",
    }
    text = plain_text(body, "Data breach at Voxa", "high")
    assert "Routine outreach for Voxa is on hold: 41 replies held" in text


# -- how alike two replies are -----------------------------------------------------------------


def test_the_same_template_to_two_people_is_the_same_reply() -> None:
    assert similarity(DANA, SAM, a_names=["@dana"], b_names=["Sam Lee"]) == 1.0


def test_links_handles_and_case_do_not_make_a_reply_different() -> None:
    assert normalise("Hi @Dana, SEE https://x.example/a?b=1 now", ["Dana"]) == ["hi", "see", "now"]
    assert similarity("Sorry!! see www.acme.example", "sorry, see https://acme.example/x") == 1.0


def test_a_reworded_reply_is_not_an_echo_but_one_changed_word_is() -> None:
    assert similarity(DANA, REWORDED, a_names=["@dana"], b_names=["Sam"]) < 0.3
    one_word = DANA.replace("problem", "issue")
    assert similarity(DANA, one_word) >= 0.8


def test_find_echo_names_the_most_recent_alike_reply() -> None:
    sends = [
        SentReply(4, "@amy", "Amy", DANA.replace("@dana", "@amy"), NOW - timedelta(minutes=30)),
        SentReply(5, "@dana", "Dana", DANA, NOW - timedelta(minutes=12)),
        SentReply(6, "@zed", "Zed", "Something else entirely, from Acme.", NOW),
    ]
    found = find_echo(SAM, ["Sam Lee"], sends, threshold=0.8)
    assert found is not None and found[0].draft_id == 5 and found[1] == 1.0
    assert find_echo(REWORDED, ["Sam"], sends, threshold=0.8) is None


# -- the send rule -----------------------------------------------------------------------------


def _sent(text: str = DANA, minutes: int = 12, draft_id: int = 5) -> SentReply:
    return SentReply(draft_id, "@dana", "Dana", text, NOW - timedelta(minutes=minutes))


def test_an_approved_reply_to_an_author_in_a_held_incident_is_held_under_it() -> None:
    facts = _facts(
        incident_holds=[
            IncidentHold(14, "held: incident #14 (Service outage at acme, critical)"),
            IncidentHold(12, "held: incident #12 (Data breach at acme, high)"),
        ]
    )
    assert _send(facts) == HoldForIncident(12, "held: incident #12 (Data breach at acme, high)")


def test_do_not_contact_still_cancels_before_an_incident_hold() -> None:
    facts = _facts(
        blocked_author="dana",
        blocked_reason="opted out",
        incident_holds=[IncidentHold(12, "held: incident #12 (Data breach at acme, high)")],
    )
    assert _send(facts) == Cancel("do not contact: opted out")


def test_an_incident_hold_comes_before_a_channel_hold() -> None:
    facts = _facts(incident_holds=[IncidentHold(12, "held: incident #12")])
    assert isinstance(_send(facts, channel_hold=Hold("X is down", None)), HoldForIncident)


def test_a_reply_echoing_one_just_sent_to_someone_else_goes_back_to_be_reworded() -> None:
    facts = _facts(_draft(text=SAM, recipient="@sam"), recent_sends=[_sent()])
    assert _send(facts) == Reword(
        "nearly the same as the reply sent to @dana 12 minutes ago (draft #5): reword it", 5
    )


def test_a_reworded_reply_or_an_old_send_is_claimed() -> None:
    assert _send(_facts(_draft(text=REWORDED), recent_sends=[_sent()])) == Claim()
    old = _sent(minutes=61)  # outside the default hour
    assert _send(_facts(_draft(text=SAM), recent_sends=[old])) == Claim()


def test_an_echo_window_of_zero_turns_the_check_off() -> None:
    off = OutreachSettings(echo_window=timedelta(0))
    facts = _facts(_draft(text=SAM), recent_sends=[_sent()])
    from listener.outreach.claims import decide_send

    assert decide_send(facts, now=NOW, channel_hold=None, brand=BRAND, outreach=off) == Claim()


def test_posting_by_hand_keeps_the_incident_hold_and_the_echo_check() -> None:
    manual = _draft(channel=Channel.MANUAL, text=SAM)
    held = _facts(manual, incident_holds=[IncidentHold(12, "held: incident #12")])
    assert isinstance(
        decide_manual_send(held, now=NOW, brand=BRAND, outreach=OUTREACH), HoldForIncident
    )
    echo = _facts(manual, recent_sends=[_sent(minutes=0)])
    decision = decide_manual_send(echo, now=NOW, brand=BRAND, outreach=OUTREACH)
    assert isinstance(decision, Reword) and "less than a minute ago" in decision.reason
