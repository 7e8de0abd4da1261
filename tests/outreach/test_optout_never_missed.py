"""An opt-out is never missed: not when it looks like a copy of an earlier post, not when the
process dies before its after-store steps, not when it is imported again, not when it is a
bare STOP answering the brand's own post on X, not when it is written in fullwidth letters.

Each test ends where it matters: the reply that was approved before the opt-out arrived is not
emailed (a real SMTP server) or posted (the local X API), and the author is on the list.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from listener.domain import DraftStatus, IngestItem, Mention
from listener.settings import Settings
from listener.sources import build_source
from tests.support.cli import listener_cli
from tests.support.fakes.x_api import BEARER_TOKEN, XApiServer
from tests.support.outreach import NOW, X_KEYS, SmtpServer, World, x_mention
from tests.support.paths import REPO

WorldFactory = Callable[..., World]
KIM = "kim@example.org"
THREAD_TITLE = "O2 billing thread: double charges this month"


@pytest.fixture
def world(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    db_url: str,
) -> World:
    email = {"sender": "care@o2.example", "smtp_host": smtp_server.host}
    email |= {"smtp_port": smtp_server.port, "timeout": "5s"}
    return world_factory(make_settings(database={"url": db_url}, email=email), environ={})


def forum_post(number: int, text: str, *, title: str, link: str, author: str = KIM) -> Mention:
    return Mention(
        source="forum",
        external_id=f"post-{number}",
        text=text,
        title=title,
        url=link,
        author=author,
        author_email=author if "@" in author else "",
        source_kind="feed",
        published_at=NOW,
    )


def approved_complaint(world: World) -> int:
    """Kim's complaint, its reply approved and due: what an opt-out has to stop."""
    complaint = forum_post(
        1, "O2 billed me twice, fix it", title=THREAD_TITLE, link="https://forum.example/t/9?p=1"
    )
    (draft,) = world.ingest(complaint)
    assert draft.channel.value == "email" and draft.recipient == KIM
    world.approve(draft)
    return draft.id


def assert_nothing_emailed_and_listed(world: World, smtp: SmtpServer, draft_id: int) -> None:
    report = world.dispatcher().run_once()
    assert smtp.messages == []
    assert report.sent == {}
    assert world.draft(draft_id).status is DraftStatus.CANCELLED
    assert KIM in [c.author for c in world.store.outreach.contacts("O2")]


@pytest.mark.parametrize(
    ("stop_text", "title", "link"),
    [
        # The thread's link once its query string is removed: it used to be folded into the
        # complaint as a "sighting", which no after-store step ever read.
        ("STOP", "Re: my O2 bill", "https://forum.example/t/9?p=2"),
        # The thread's title on another link.
        ("STOP", THREAD_TITLE, "https://forum.example/reply/2"),
        # The same, in fullwidth letters (a compatibility form of STOP).
        (
            "\uff33\uff34\uff2f\uff30, I never signed up for this",
            THREAD_TITLE,
            "https://f.example/3",
        ),
    ],
    ids=["same-link", "same-title", "fullwidth"],
)
def test_a_stop_that_shares_a_link_or_title_with_an_earlier_post_is_never_missed(
    world: World,
    smtp_server: SmtpServer,
    stop_text: str,
    title: str,
    link: str,
) -> None:
    draft_id = approved_complaint(world)
    world.ingest(forum_post(2, stop_text, title=title, link=link))
    assert_nothing_emailed_and_listed(world, smtp_server, draft_id)


def test_a_stop_copied_from_someone_elses_post_still_counts(
    world: World,
    smtp_server: SmtpServer,
) -> None:
    draft_id = approved_complaint(world)
    # Someone else published the very same words under the same headline first.
    world.ingest(forum_post(7, "STOP", title=THREAD_TITLE, link="https://x.example/a", author="z"))
    world.ingest(forum_post(8, "STOP", title=THREAD_TITLE, link="https://x.example/a"))
    assert_nothing_emailed_and_listed(world, smtp_server, draft_id)
    assert sorted(c.author for c in world.store.outreach.contacts("O2")) == [KIM, "z"]


def _stored_without_its_steps(world: World, stop: Mention) -> None:
    """What a process killed between the commit and the after-store steps left behind in
    the releases that ran opt-outs as a step: the STOP stored, unsettled, nobody listed."""
    [score] = world.listener.pipeline.scorer.score_batch([stop])
    world.store.ingest([IngestItem(stop, "O2", "O2", score)], at=world.clock.now())
    assert world.store.outreach.contacts() == []


def test_dispatch_never_sends_to_an_author_whose_stop_is_stored_but_unsettled(
    world: World,
    smtp_server: SmtpServer,
) -> None:
    draft_id = approved_complaint(world)
    stop = forum_post(2, "O2 unsubscribe me", title="Re", link="https://forum.example/r/2")
    _stored_without_its_steps(world, stop)
    assert_nothing_emailed_and_listed(world, smtp_server, draft_id)
    (entry,) = world.store.outreach.contacts("O2")
    assert entry.reason.startswith('opted out ("unsubscribe") in mention')


def _settings_file(tmp_path: Path, world: World, smtp: SmtpServer) -> Path:
    config = tmp_path / "settings.toml"
    config.write_text(
        f"[database]\nurl = {json.dumps(world.listener.settings.database_url)}\n"
        '[[brands]]\nname = "O2"\nterms = ["O2", "@O2", "#O2", "O2 UK"]\n'
        'support_url = "https://o2.example/help"\n'
        '[[brands]]\nname = "Skyline Air"\nterms = ["Skyline Air", "@SkylineAir"]\n'
        '[scoring]\nmodel = "lexicon"\nworkers = 0\n'
        f"[outreach]\ntemplates_dir = {json.dumps(str(REPO / 'templates'))}\n"
        f'[email]\nsender = "care@o2.example"\nsmtp_host = "{smtp.host}"\n'
        f'smtp_port = {smtp.port}\ntimeout = "5s"\n',
        encoding="utf-8",
    )
    return config


def test_reimporting_a_stop_records_the_opt_out(
    world: World,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    draft_id = approved_complaint(world)
    stop = forum_post(2, "STOP", title="Re: O2 bill", link="https://forum.example/r/2")
    _stored_without_its_steps(world, stop)
    # As if the lost step had been marked done: only the import itself can notice now.
    [batch] = world.store.unsettled(stored_before=world.clock.now().replace(year=2100))
    world.store.mark_settled(batch.id)

    lines = tmp_path / "again.jsonl"
    record = {"source": "forum", "external_id": "post-2", "text": "STOP", "title": "Re: O2 bill"}
    record |= {"author": KIM, "author_email": KIM, "url": "https://forum.example/r/2"}
    lines.write_text(json.dumps(record) + "\n", encoding="utf-8")
    config = _settings_file(tmp_path, world, smtp_server)
    imported = listener_cli(config, "import", str(lines))
    assert imported.returncode == 0, imported.stderr
    assert [c.author for c in world.store.outreach.contacts("O2")] == [KIM]
    assert world.draft(draft_id).status is DraftStatus.CANCELLED

    dispatched = listener_cli(config, "dispatch", "--json")
    assert dispatched.returncode == 0, dispatched.stderr
    assert smtp_server.messages == []


def test_an_old_stop_seen_again_does_not_undo_a_persons_removal(
    world: World,
    smtp_server: SmtpServer,
) -> None:
    stop = forum_post(2, "STOP", title="Re: O2 bill", link="https://forum.example/r/2")
    world.ingest(stop)
    contacts = world.store.outreach
    contacts.remove_contact(brand="O2", author=KIM, actor="ann", at=NOW)
    world.ingest(stop)  # the feed serves the same entry again
    assert contacts.contacts("O2") == []
    # A new opt-out always counts.
    world.ingest(forum_post(3, "STOP", title="Re: O2 bill", link="https://forum.example/r/3"))
    assert [c.author for c in contacts.contacts("O2")] == [KIM]


@pytest.fixture
def x_world(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> World:
    brand = x_api.add_user("O2", id="9000")
    brands = [
        {"name": "O2", "terms": ["O2 UK", "#O2"], "x_handle": "O2", "x_user_id": brand.id},
        {"name": "Skyline Air", "terms": ["Skyline Air"]},
    ]
    source = {"name": "x-o2", "kind": "x", "api_url": x_api.url, "user_id": brand.id}
    settings = make_settings(
        database={"url": db_url},
        brands=brands,
        sources=[source],
        x_publish={"api_url": x_api.url},
    )
    return world_factory(settings, environ={**X_KEYS, "LISTENER_X_BEARER_TOKEN": BEARER_TOKEN})


def test_a_bare_stop_replying_to_the_brands_post_on_x_opts_out(
    x_world: World,
    x_api: XApiServer,
) -> None:
    dana = x_api.add_user("dana")
    (draft,) = x_world.ingest(x_mention(x_api, dana, "O2 UK charged me twice this month"))
    x_world.approve(draft)
    brand_post = x_api.add_tweet("Sorry to hear that, we will look into it", author="9000")
    # A reply to the brand's post that does not name the brand, seen only on its mentions.
    x_api.add_tweet(
        "STOP",
        author=dana,
        in_reply_to_tweet_id=brand_post.id,
        in_reply_to_user_id="9000",
        conversation_id=brand_post.id,
        mentions=("9000",),
        searchable=False,
    )
    config = x_world.listener.settings.sources[0]
    source = build_source(config, x_world.listener.settings, x_world.environ)
    report = x_world.listener.pipeline.poll(source)
    assert report.ok, report.error

    x_world.dispatcher().run_once()
    assert x_api.requests_to("post") == []
    assert x_world.draft(draft.id).status is DraftStatus.CANCELLED
    assert [c.author for c in x_world.store.outreach.contacts("O2")] == ["dana"]


def test_a_post_tagging_the_brands_account_is_about_the_brand_even_without_its_terms(
    x_world: World,
    x_api: XApiServer,
) -> None:
    eve = x_api.add_user("eve")
    (draft,) = x_world.ingest(x_mention(x_api, eve, "O2 UK lost my number port, awful"))
    x_world.approve(draft)
    # Neither "O2 UK" nor "#O2" (the brand's terms): only its account, tagged mid-sentence.
    x_world.ingest(x_mention(x_api, eve, "hey @O2: please stop messaging me"))
    x_world.dispatcher().run_once()
    assert x_api.requests_to("post") == []
    assert [c.author for c in x_world.store.outreach.contacts("O2")] == ["eve"]
