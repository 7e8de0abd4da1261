"""The rules the dispatchers apply under their locks, as pure functions of gathered facts.

The store gathers the facts in the claiming transaction and applies the answer there (see
tests/outreach/test_dispatch*.py and tests/alerts/test_alert_outbox.py for the whole path); these tests pin the
order of the rules: do-not-contact before holds, quiet hours before caps, and so on.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from listener.alerts.claims import Claim as AlertClaim
from listener.alerts.claims import DeliveryFacts, Fail, Supersede, decide_claim
from listener.alerts.claims import Hold as AlertHold
from listener.alerts.message import ESCALATED, OPENED
from listener.domain import Channel, Draft, DraftStatus, Mention
from listener.outreach.caps import Hold
from listener.outreach.claims import (
    Cancel,
    Claim,
    SendFacts,
    Skip,
    decide_manual_send,
    decide_send,
)
from listener.settings import AlertChannelSettings, BrandSettings, OutreachSettings, QuietHours

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BRAND = BrandSettings(name="acme", terms=["acme"])
QUIET_NOW = QuietHours(start=time(11, 0), end=time(13, 0))
OUTREACH = OutreachSettings(max_per_author=1, cap_period=timedelta(hours=24))


def _draft(**changes: object) -> Draft:
    values: dict[str, object] = {
        "id": 7,
        "mention_id": 3,
        "brand": "acme",
        "channel": Channel.X,
        "template": "t",
        "text": "Sorry about that, from the Acme team.",
        "status": DraftStatus.APPROVED,
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW - timedelta(hours=1),
    }
    values.update(changes)
    return Draft(**values)  # type: ignore[arg-type]


def _facts(draft: Draft | None = None, **changes: object) -> SendFacts:
    values: dict[str, object] = {
        "draft": draft or _draft(),
        "mention": Mention(source="x", external_id="1", text="acme broke", author="@dana"),
        "author": "dana",
        "blocked_author": None,
        "blocked_reason": "",
        "sends_to_author": [],
        "sends_on_channel": [],
    }
    values.update(changes)
    return SendFacts(**values)  # type: ignore[arg-type]


def _send(facts: SendFacts, *, brand: BrandSettings = BRAND, channel_hold: Hold | None = None):  # type: ignore[no-untyped-def]
    return decide_send(facts, now=NOW, channel_hold=channel_hold, brand=brand, outreach=OUTREACH)


def test_an_approved_reply_with_nothing_against_it_is_claimed() -> None:
    assert _send(_facts()) == Claim()


def test_a_reply_someone_else_acted_on_or_not_due_yet_is_skipped() -> None:
    assert _send(_facts(_draft(status=DraftStatus.SENT))) == Skip()
    assert _send(_facts(_draft(next_attempt_at=NOW + timedelta(minutes=1)))) == Skip()
    assert _send(_facts(_draft(next_attempt_at=NOW))) == Claim()


def test_do_not_contact_cancels_before_any_hold() -> None:
    facts = _facts(blocked_author="dana", blocked_reason="opted out", sends_to_author=[NOW])
    quiet = BrandSettings(name="acme", terms=["acme"], quiet_hours=QUIET_NOW)
    decision = _send(facts, brand=quiet, channel_hold=Hold("X is down", None))
    assert decision == Cancel("do not contact: opted out")


def test_holds_come_in_order_channel_brand_name_quiet_hours_author_cap_channel_rate() -> None:
    quiet = BrandSettings(name="acme", terms=["acme"], quiet_hours=QUIET_NOW)
    capped = _facts(sends_to_author=[NOW - timedelta(hours=1)])
    assert _send(capped, brand=quiet, channel_hold=Hold("X is down", None)) == Hold(
        "X is down", None
    )
    unnamed = _facts(_draft(text="Sorry about that."), sends_to_author=[NOW])
    held = _send(unnamed, brand=quiet)
    assert isinstance(held, Hold) and "does not name the brand" in held.reason
    held = _send(capped, brand=quiet)
    assert isinstance(held, Hold) and "quiet hours" in held.reason
    held = _send(capped)
    assert isinstance(held, Hold) and held.until == NOW + timedelta(hours=23)
    busy = _facts(sends_on_channel=[NOW - timedelta(seconds=5)] * 30)
    held = _send(busy)
    assert isinstance(held, Hold) and held.until is not None and held.until > NOW


def test_a_send_outside_the_cap_period_does_not_count() -> None:
    assert _send(_facts(sends_to_author=[NOW - timedelta(hours=25)])) == Claim()


def test_posting_by_hand_keeps_do_not_contact_quiet_hours_and_the_cap_but_no_channel_rate() -> None:
    manual = _draft(channel=Channel.MANUAL)
    busy = _facts(manual, sends_on_channel=[NOW] * 100)
    assert decide_manual_send(busy, now=NOW, brand=BRAND, outreach=OUTREACH) == Claim()
    blocked = _facts(manual, blocked_author="dana", blocked_reason="asked us to stop")
    assert decide_manual_send(blocked, now=NOW, brand=BRAND, outreach=OUTREACH) == Cancel(
        "asked us to stop"
    )
    capped = _facts(manual, sends_to_author=[NOW - timedelta(hours=1)])
    assert isinstance(decide_manual_send(capped, now=NOW, brand=BRAND, outreach=OUTREACH), Hold)
    automatic = _facts(_draft(channel=Channel.X))
    assert decide_manual_send(automatic, now=NOW, brand=BRAND, outreach=OUTREACH) == Skip()


# alerts ----------------------------------------------------------------------------------------

HOOK = AlertChannelSettings(name="hook", kind="slack", url="http://127.0.0.1:9/x")
CONFIGS = {"hook": HOOK}


def _alert(facts: DeliveryFacts, configs: dict[str, AlertChannelSettings] = CONFIGS):  # type: ignore[no-untyped-def]
    return decide_claim(facts, configs=configs, channels=set(configs), now=NOW)


def test_a_due_alert_is_claimed_and_one_for_a_removed_channel_fails() -> None:
    assert _alert(DeliveryFacts("hook", OPENED, None, None)) == AlertClaim()
    failed = _alert(DeliveryFacts("gone", OPENED, None, None))
    assert failed == Fail("channel 'gone' is no longer configured")


def test_quiet_hours_hold_before_a_newer_escalation_supersedes() -> None:
    quiet = AlertChannelSettings(
        name="hook", kind="slack", url="http://127.0.0.1:9/x", quiet_hours=QUIET_NOW
    )
    held = _alert(DeliveryFacts("hook", ESCALATED, 12, None), {"hook": quiet})
    assert isinstance(held, AlertHold) and held.reason == "quiet hours"
    assert _alert(DeliveryFacts("hook", ESCALATED, 12, None)) == Supersede(12)


def test_only_an_escalation_is_superseded_and_the_cooldown_holds_the_rest() -> None:
    recent = NOW - timedelta(minutes=5)
    assert _alert(DeliveryFacts("hook", OPENED, 12, recent)) == AlertHold(
        recent + HOOK.cooldown, "cooldown"
    )
    assert _alert(DeliveryFacts("hook", OPENED, None, NOW - HOOK.cooldown)) == AlertClaim()
