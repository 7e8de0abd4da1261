"""An opt-out puts the author on the brand's do-not-contact list, cancels what was waiting for
them, and stops new drafts until a person takes them off the list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from listener.domain import DraftStatus, Mention
from listener.settings import Settings
from tests.support.cli import listener_cli
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import NOW, World, email_mention, x_mention
from tests.support.paths import REPO

WorldFactory = Callable[..., World]


@pytest.fixture
def world(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> World:
    return world_factory(make_settings(database={"url": db_url}, x_publish={"api_url": x_api.url}))


def test_stop_cancels_an_already_approved_reply_and_nothing_is_sent(
    world: World,
    x_api: XApiServer,
) -> None:
    dana = x_api.add_user("dana")
    (draft,) = world.ingest(x_mention(x_api, dana, "@O2 why do you keep texting me"))
    world.approve(draft)

    stop = x_mention(x_api, dana, "@O2 STOP")
    after = world.ingest(stop)

    assert [d.id for d in after] == [draft.id]  # no reply drafted to the STOP itself
    cancelled = world.draft(draft.id)
    assert cancelled.status is DraftStatus.CANCELLED
    assert cancelled.reject_reason.startswith('do not contact: opted out ("stop") in mention')
    (entry,) = world.store.outreach.contacts("O2")
    assert entry.author == "dana" and entry.created_by == "listener"
    world.dispatcher().run_once()
    assert x_api.requests_to("post") == []
    actions = {r.action for r in world.store.audit(limit=50)}
    assert {"contact.do_not_contact", "draft.cancel"} <= actions


def test_no_new_draft_for_them_until_a_person_removes_them(
    world: World,
    x_api: XApiServer,
) -> None:
    eve = x_api.add_user("eve")
    world.ingest(x_mention(x_api, eve, "@O2 please stop messaging me"))
    world.ingest(x_mention(x_api, eve, "@O2 my bill is wrong again"))
    assert world.drafts() == []
    # The list is per brand: another brand may still answer her.
    assert len(world.ingest(x_mention(x_api, eve, "@SkylineAir lost my bag, awful"))) == 1

    world.store.outreach.remove_contact(brand="O2", author="@EVE", actor="ann", at=NOW)
    drafts = world.ingest(x_mention(x_api, eve, "@O2 the bill is still wrong"))
    assert [d.brand for d in drafts] == ["Skyline Air", "O2"]
    assert any(r.action == "contact.remove" for r in world.store.audit(limit=20))


def test_an_import_drafts_nothing_for_someone_who_opted_out_in_the_batch_before(
    world: World,
    x_api: XApiServer,
) -> None:
    # On PostgreSQL an import runs a batch's cases and incidents while it stores the next
    # one; the opt-outs must still be in before the next batch's drafts are decided.
    eve, ivy = x_api.add_user("eve"), x_api.add_user("ivy")
    to_ivy = x_mention(x_api, ivy, "@O2 my bill is wrong again")
    batches = [
        [x_mention(x_api, eve, "@O2 please stop messaging me")],
        [x_mention(x_api, eve, "@O2 my bill is wrong again"), to_ivy],
    ]
    reports = list(world.listener.pipeline.ingest_many(batches, actor="import"))
    assert [(r.new, r.drafts, r.problems) for r in reports] == [(1, 0, []), (2, 1, [])]
    assert [d.recipient for d in world.drafts()] == [to_ivy.external_id]  # a reply to her post


def test_an_opt_out_by_email_covers_the_address(world: World) -> None:
    (draft,) = world.ingest(email_mention(1, "kim@example.org"))
    world.approve(draft)
    world.ingest(email_mention(2, "kim@example.org", "O2 unsubscribe me from all of this"))
    assert world.draft(draft.id).status is DraftStatus.CANCELLED
    assert [c.author for c in world.store.outreach.contacts()] == ["kim@example.org"]
    assert len(world.drafts()) == 1


def test_the_opt_out_step_is_safe_to_run_again(
    world: World,
    x_api: XApiServer,
) -> None:
    report = world.listener.pipeline.ingest(
        [x_mention(x_api, x_api.add_user("fay"), "@O2 leave me alone")], now=NOW
    )
    records = len(world.store.audit(limit=1000))
    for step in world.listener.pipeline.after_store:
        step(report.stored, NOW)
    assert len(world.store.outreach.contacts()) == 1
    assert len(world.store.audit(limit=1000)) == records
    assert report.problems == []


def test_everyday_stop_does_not_silence_a_customer(
    world: World,
    x_api: XApiServer,
) -> None:
    drafts = world.ingest(
        x_mention(x_api, x_api.add_user("gil"), "@O2 no signal at the bus stop again, awful")
    )
    assert len(drafts) == 1 and world.store.outreach.contacts() == []


def test_listener_contacts_edits_the_list(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///l.db"\n'
        '[[brands]]\nname = "O2"\nterms = ["O2"]\n'
        f'[scoring]\nmodel = "lexicon"\n[outreach]\ntemplates_dir = "{REPO / "templates"}"\n'
    )
    added = listener_cli(
        config,
        "contacts",
        "add",
        "--brand",
        "O2",
        "--author",
        "@Hal",
        "--reason",
        "phone call",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"added": True, "cancelled_drafts": []}
    listed = json.loads(listener_cli(config, "contacts", "list", "--json").stdout)
    assert [(c["brand"], c["author"], c["reason"]) for c in listed] == [("O2", "hal", "phone call")]
    assert listed[0]["created_by"].startswith("cli:")

    unknown = listener_cli(config, "contacts", "add", "--brand", "Nope", "--author", "x")
    assert unknown.returncode == 1 and "there is no brand 'Nope'" in unknown.stderr
    removed = listener_cli(config, "contacts", "remove", "--brand", "O2", "--author", "hal")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(listener_cli(config, "contacts", "list", "--json").stdout) == []
    again = listener_cli(config, "contacts", "remove", "--brand", "O2", "--author", "hal")
    assert again.returncode == 1 and "is not on the do-not-contact list" in again.stderr


def test_a_mention_without_an_author_cannot_opt_anyone_out(world: World) -> None:
    world.ingest(Mention("blog", "1", "O2 STOP", source_kind="feed", published_at=NOW))
    assert world.store.outreach.contacts() == []
