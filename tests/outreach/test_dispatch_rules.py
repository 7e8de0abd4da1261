"""The rules are checked again at send time: do-not-contact, frequency caps, quiet hours and the
channel's send rate. A reply that may not go now waits, with the reason on the draft."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from listener.domain import Draft, DraftStatus
from listener.errors import NotAllowed
from listener.outreach.review import ReviewAction
from listener.settings import Settings
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import NOW, World, forum_mention, x_mention

WorldFactory = Callable[..., World]


def _reword(world: World, draft_id: int, text: str) -> Draft:
    return world.store.review(draft_id, ReviewAction.EDIT, actor="bob", at=NOW, text=text)  # type: ignore[no-any-return]


@pytest.fixture
def settings_with(
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> Callable[..., Settings]:
    def build(outreach: dict[str, object] | None = None, **brand: object) -> Settings:
        o2 = {
            "name": "O2",
            "terms": ["O2", "@O2"],
            "support_url": "https://o2.example/help",
            **brand,
        }
        return make_settings(
            database={"url": db_url},
            brands=[o2],
            outreach=outreach or {},
            x_publish={"api_url": x_api.url, "timeout": "5s"},
        )

    return build


def test_an_author_gets_at_most_one_message_per_day_by_default(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    world = world_factory(settings_with())
    dana = x_api.add_user("dana")
    first, second = world.ingest(
        x_mention(x_api, dana, "@O2 no signal again"), x_mention(x_api, dana, "@O2 still nothing")
    )
    # X refuses a second post with the same text as a duplicate: a person words it anew.
    second = _reword(
        world, second.id, "@dana sorry it is still down; O2 is on it. Reply STOP to opt out."
    )
    world.approve(first, second)

    report = world.dispatcher().run_once()

    assert len(x_api.posts) == 1
    waiting = world.draft(second.id) if first.id in report.sent else world.draft(first.id)
    assert waiting.status is DraftStatus.APPROVED
    assert "frequency cap" in waiting.hold_reason and "max 1" in waiting.hold_reason
    assert waiting.next_attempt_at == NOW + timedelta(hours=24)

    world.advance(hours=23)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 1  # still inside the 24 h period
    world.advance(hours=1, seconds=1)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 2 and world.statuses() == [DraftStatus.SENT, DraftStatus.SENT]


def test_the_cap_is_configurable(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    world = world_factory(settings_with({"max_per_author": 2, "cap_period": "1h"}))
    ed = x_api.add_user("ed")
    drafts = world.ingest(*(x_mention(x_api, ed, f"@O2 problem number {i}") for i in range(3)))
    drafts = [
        _reword(world, d.id, f"@ed sorry about problem {i}, from O2. Reply STOP to opt out.")
        for i, d in enumerate(drafts)
    ]
    world.approve(*drafts)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 2
    world.advance(hours=1, seconds=1)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 3


def test_nothing_goes_out_in_the_brands_quiet_hours(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    # 10:00 UTC is 21:00 in Sydney; quiet from 20:00 to 08:00 there (wrapping midnight).
    quiet = {"start": "20:00", "end": "08:00", "timezone": "Australia/Sydney"}
    world = world_factory(settings_with(quiet_hours=quiet))
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("fi"), "@O2 broken again"))
    world.approve(draft)

    world.dispatcher().run_once()
    waiting = world.draft(draft.id)
    assert x_api.posts == [] and waiting.status is DraftStatus.APPROVED
    assert "quiet hours for O2 (20:00-08:00 Australia/Sydney)" in waiting.hold_reason
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at.isoformat() == "2026-03-09T21:00:00+00:00"  # 08:00 AEDT

    world.advance(hours=10, minutes=59)
    world.dispatcher().run_once()
    assert x_api.posts == []
    world.advance(minutes=1)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 1


def test_a_reply_that_does_not_name_the_brand_is_held_until_it_does(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    # Edits are checked for the brand's name; this one comes in without that check (as a
    # reply approved before it existed would) and must still not go out.
    world = world_factory(settings_with(display_name="O2 UK"))
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("gus"), "@O2 no signal"))
    _reword(world, draft.id, "@gus sorry about that. Reply STOP to opt out.")
    world.approve(draft)

    world.dispatcher().run_once()
    held = world.draft(draft.id)
    assert x_api.posts == [] and held.status is DraftStatus.APPROVED
    assert "does not name the brand (O2 UK)" in held.hold_reason

    _reword(world, draft.id, "@gus sorry about that, from O2. Reply STOP to opt out.")
    world.approve(draft)
    world.dispatcher().run_once()
    assert [p.text for p in x_api.posts] == [
        "@gus sorry about that, from O2. Reply STOP to opt out."
    ]


def test_the_channel_send_rate_holds_the_rest_for_a_minute(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    # The three replies come from one template: the echo check is off (tested on its own).
    world = world_factory(settings_with({"send_rate_per_minute": 2, "echo_window": "0s"}))
    drafts = world.ingest(
        *(x_mention(x_api, x_api.add_user(f"user{i}"), f"@O2 outage {i}") for i in range(3))
    )
    world.approve(*drafts)
    report = world.dispatcher().run_once()
    assert len(x_api.posts) == 2 and len(report.held) == 1
    (held_id,) = report.held
    assert "send rate: x already sent 2" in world.draft(held_id).hold_reason
    world.advance(seconds=61)
    world.dispatcher().run_once()
    assert len(x_api.posts) == 3


def test_a_reply_approved_before_the_author_opted_out_is_cancelled_not_sent(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    world = world_factory(settings_with())
    gil = x_api.add_user("gil")
    (draft,) = world.ingest(x_mention(x_api, gil, "@O2 why am I getting your texts"))
    world.approve(draft)
    # The opt-out arrives in the same batch window, after approval; the step may even have
    # missed it (e.g. a person added them by hand): the dispatcher checks again.
    world.store.outreach.add_contact(
        brand="O2", author="@Gil", reason="asked by phone", actor="ann", at=NOW
    )
    cancelled = world.draft(draft.id)
    assert cancelled.status is DraftStatus.CANCELLED  # at once, not at the next dispatch
    assert cancelled.reject_reason == "do not contact: asked by phone"
    world.dispatcher().run_once()
    assert x_api.requests_to("post") == []


def test_the_send_time_check_cancels_a_reply_to_someone_on_the_list(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
    x_api: XApiServer,
) -> None:
    world = world_factory(settings_with())
    hu = x_api.add_user("hu")
    (draft,) = world.ingest(x_mention(x_api, hu, "@O2 spam texts every day"))
    world.approve(draft)
    # Put them on the list behind the store's back: only the send-time check stands between
    # the approved reply and the platform now.
    with world.store._write() as conn:
        from listener.store.contacts import DNC

        conn.execute(
            DNC.insert().values(
                brand="O2", author="hu", reason="opted out", created_at=NOW, created_by="t"
            )
        )
    report = world.dispatcher().run_once()
    cancelled = world.draft(draft.id)
    assert cancelled.status is DraftStatus.CANCELLED and x_api.requests_to("post") == []
    assert cancelled.reject_reason == "do not contact: opted out"
    assert report.cancelled == {draft.id: "do not contact: opted out"}


def test_marking_a_manual_reply_sent_obeys_the_same_rules(
    world_factory: WorldFactory,
    settings_with: Callable[..., Settings],
) -> None:
    quiet = {"start": "09:00", "end": "17:00", "timezone": "UTC"}
    world = world_factory(settings_with(quiet_hours=quiet))
    (draft,) = world.ingest(forum_mention(7, "ola"))
    world.approve(draft)
    with pytest.raises(NotAllowed, match="quiet hours for O2"):
        world.dispatcher().mark_sent(draft.id, actor="ann")
    world.advance(hours=7)
    assert world.dispatcher().mark_sent(draft.id, actor="ann").status is DraftStatus.SENT
