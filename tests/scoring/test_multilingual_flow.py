"""Mentions beyond English, end to end on a real store with the shipped scorer: a Chinese
complaint is scored dissatisfied and answered in Chinese (or flagged for a person when there is
no Chinese template), a Chinese STOP opts its author out, and the language is stored and can
be filtered on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from listener.app import Listener, make_listener
from listener.clock import ReplayClock
from listener.domain import Category, Mention
from listener.errors import NotAllowed
from listener.outreach.review import ReviewAction, names_brand
from listener.settings import Settings
from listener.store import DraftFilter, MentionFilter
from tests.support.outreach import NOW
from tests.support.paths import REPO

CHINESE_COMPLAINT = "我的云帆航空航班又延误了三个小时，太糟糕了！"
FRENCH_COMPLAINT = "Skyline Air mon vol est encore en retard de trois heures, c'est inadmissible !"
TRADITIONAL_COMPLAINT = "我的雲帆航空航班又延誤了三個小時，太糟糕了！"


def forum_post(number: int, text: str, author: str = "lin", lang: str = "") -> Mention:
    return Mention(
        source="forum",
        external_id=f"post-{number}",
        text=text,
        url=f"https://forum.example/t/{number}",
        author=author,
        source_kind="feed",
        published_at=NOW,
        lang=lang,
    )


@pytest.fixture
def open_listener(
    make_settings: Callable[..., Settings], db_url: str
) -> Iterator[Callable[..., Listener]]:
    made: list[Listener] = []

    def build(**overrides: object) -> Listener:
        brands = [
            {"name": "O2", "terms": ["O2", "@O2"], "support_url": "https://o2.example/help"},
            {
                "name": "Skyline Air",
                "terms": ["Skyline Air", "@SkylineAir", "云帆航空", "雲帆航空"],
                "support_url": "https://skyline.example/help",
            },
        ]
        settings = make_settings(database={"url": db_url}, brands=brands, **overrides)
        listener = make_listener(settings, clock=ReplayClock(NOW), sources=[], environ={})
        made.append(listener)
        return listener

    yield build
    for listener in made:
        listener.close()


def stored(listener: Listener) -> list[tuple[str, str, bool, str]]:
    found = listener.store.mentions(MentionFilter(), limit=100)
    return sorted(
        (s.mention.external_id, s.mention.lang, s.score.dissatisfied, s.brand) for s in found
    )


@pytest.mark.parametrize("text", [CHINESE_COMPLAINT, TRADITIONAL_COMPLAINT])
def test_a_chinese_complaint_is_dissatisfied_and_answered_in_chinese(
    open_listener: Callable[..., Listener], text: str
) -> None:
    listener = open_listener()
    listener.pipeline.ingest([forum_post(1, text)], now=NOW)

    (mention,) = listener.store.mentions(MentionFilter(), limit=10)
    assert mention.brand == "Skyline Air"
    assert mention.mention.lang == "zh"  # detected: the forum gave no language
    assert mention.score.dissatisfied
    assert mention.score.category is Category.COMPLAINT
    (draft,) = listener.store.drafts(limit=10)
    assert draft.template == "zh/complaint"
    assert "非常抱歉" in draft.text and "退订" in draft.text
    assert names_brand(draft.text, listener.settings.brands[1].reply_names)
    assert draft.hold_reason == ""


def test_without_a_template_in_its_language_the_draft_is_left_to_a_person(
    open_listener: Callable[..., Listener],
) -> None:
    # French has no built-in reply templates (and an override folder can only add or replace).
    listener = open_listener()

    listener.pipeline.ingest([forum_post(1, FRENCH_COMPLAINT)], now=NOW)

    (draft,) = listener.store.drafts(limit=10)
    assert draft.text == ""  # nothing in English to approve by mistake
    assert draft.template == "fr/complaint"
    assert draft.hold_reason.startswith("no French complaint template: write the reply by hand")


def test_a_spanish_complaint_is_answered_in_spanish_and_an_unknown_language_in_the_brands(
    open_listener: Callable[..., Listener],
) -> None:
    listener = open_listener()
    listener.pipeline.ingest(
        [
            forum_post(1, "O2 la app no funciona desde hace tres días, pésimo servicio", "ana"),
            forum_post(2, "@O2 😡😡😡", "bo"),
        ],
        now=NOW,
    )

    by_mention = {d.mention_id: d for d in listener.store.drafts(limit=10)}
    found = {s.mention.external_id: s for s in listener.store.mentions(MentionFilter(), limit=10)}
    spanish = by_mention[found["post-1"].id]
    assert found["post-1"].mention.lang == "es"
    assert spanish.template == "es/complaint"
    assert spanish.text.startswith("Hola, ana. Le escribe el equipo de atención al cliente de O2.")
    assert found["post-2"].mention.lang == ""  # nothing to tell the language by
    assert by_mention[found["post-2"].id].template == "complaint"  # the brand's: English


def test_the_sources_language_is_kept(open_listener: Callable[..., Listener]) -> None:
    listener = open_listener()
    listener.pipeline.ingest(
        [
            forum_post(1, "O2 ok", lang="pt-BR"),
            forum_post(2, "O2 thanks for the quick fix", lang="und"),
        ],
        now=NOW,
    )
    assert [(i, lang) for i, lang, _, _ in stored(listener)] == [("post-1", "pt"), ("post-2", "en")]


@pytest.mark.parametrize("stop", ["退订", "TD", "回复TD退订", "退訂", "我要退订，别再给我发短信了"])
def test_a_chinese_stop_opts_its_author_out(
    open_listener: Callable[..., Listener], stop: str
) -> None:
    listener = open_listener()
    listener.pipeline.ingest([forum_post(1, CHINESE_COMPLAINT, author="lin")], now=NOW)
    listener.pipeline.ingest([forum_post(2, f"@SkylineAir {stop}", author="lin")], now=NOW)

    (entry,) = listener.store.outreach.contacts("Skyline Air")
    assert entry.author == "lin"
    (draft,) = listener.store.drafts(DraftFilter(status="all"), limit=10)  # none for the STOP
    assert draft.status.value == "cancelled"


def test_a_complaint_quoting_a_spam_footer_is_not_an_opt_out(
    open_listener: Callable[..., Listener],
) -> None:
    listener = open_listener()
    text = "云帆航空天天给我发垃圾短信，回复TD退订也没用！"
    listener.pipeline.ingest([forum_post(1, text, author="wu")], now=NOW)

    assert listener.store.outreach.contacts("Skyline Air") == []
    (mention,) = listener.store.mentions(MentionFilter(), limit=10)
    assert mention.score.dissatisfied
    assert mention.score.category is Category.SPAM_COMPLAINT


def test_mentions_are_filtered_by_language_in_the_store_and_the_cli(
    open_listener: Callable[..., Listener], db_url: str
) -> None:
    listener = open_listener()
    listener.pipeline.ingest(
        [
            forum_post(1, CHINESE_COMPLAINT),
            forum_post(2, "O2 la app no funciona, pésimo servicio"),
            forum_post(3, "@O2 ⭐"),
        ],
        now=NOW,
    )
    only = {
        code: [
            s.mention.external_id
            for s in listener.store.mentions(MentionFilter(lang=code), limit=10)
        ]
        for code in ("zh", "es", "-", "fr")
    }
    assert only == {"zh": ["post-1"], "es": ["post-2"], "-": ["post-3"], "fr": []}

    config = Path(listener.settings.base_dir) / "cli-settings.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[[brands]]\nname = "O2"\nterms = ["O2"]\n\n'
        '[[brands]]\nname = "Skyline Air"\nterms = ["Skyline Air", "云帆航空"]\n\n'
        f'[outreach]\ntemplates_dir = "{REPO / "templates"}"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "listener", "mentions", "--json", "--lang", "ZH"],
        capture_output=True,
        text=True,
        env={**os.environ, "LISTENER_CONFIG": str(config)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["external_id"], r["lang"]) for r in rows] == [("post-1", "zh")]


def test_a_draft_left_to_a_person_is_written_before_it_can_be_approved(
    open_listener: Callable[..., Listener],
) -> None:
    listener = open_listener()
    listener.pipeline.ingest([forum_post(1, FRENCH_COMPLAINT)], now=NOW)
    (draft,) = listener.store.drafts(limit=10)

    with pytest.raises(NotAllowed, match="has no text yet: write the reply first"):
        listener.store.review(draft.id, ReviewAction.APPROVE, actor="ann", at=NOW)
    names = listener.settings.reply_names_by_brand()
    written = listener.store.review(
        draft.id,
        ReviewAction.EDIT,
        actor="ann",
        at=NOW,
        text="Bonjour, ici le service client de Skyline Air : nous sommes désolés pour ce "
        "retard. Écrivez-nous en message privé avec votre numéro de réservation.",
        reply_names=names,
    )
    assert written.hold_reason == ""
    approved = listener.store.review(draft.id, ReviewAction.APPROVE, actor="bob", at=NOW)
    assert approved.status.value == "approved"
