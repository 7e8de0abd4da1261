"""Review actions on drafts: allowed transitions, four eyes, history and the audit chain."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from listener.domain import Category, DraftStatus, IngestItem, Mention, PlannedDraft, Score, Signal
from listener.errors import InvalidTransition, NotAllowed, NotFound
from listener.outreach.review import ReviewAction
from listener.settings import BrandSettings
from listener.store import DraftFilter, Store

NOW = datetime(2026, 3, 6, 9, 41, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Store:
    store = Store.open(db_url)
    score = Score(0.9, True, 0.2, Category.COMPLAINT, None, (Signal("cue", 0.5),), "test")
    items = [
        IngestItem(
            Mention("src", str(i), f"complaint {i}", author=f"@user{i}", source_kind="x"),
            "O2",
            "O2",
            score,
            PlannedDraft("x", "complaint", f"@user{i} sorry", f"{i}", 1.0 + i),
        )
        for i in range(3)
    ]
    store.ingest(items, at=NOW)
    yield store
    store.close()


def test_drafts_come_most_urgent_first(store: Store) -> None:
    assert [d.priority for d in store.drafts()] == [3.0, 2.0, 1.0]


def test_approve_then_it_cannot_be_approved_again(store: Store) -> None:
    draft = store.review(1, ReviewAction.APPROVE, actor="ann", at=NOW)
    assert draft.status is DraftStatus.APPROVED and draft.approved_by == "ann"
    with pytest.raises(InvalidTransition, match="is approved; cannot approve"):
        store.review(1, ReviewAction.APPROVE, actor="ann", at=NOW)


def test_reject_needs_a_reason(store: Store) -> None:
    with pytest.raises(NotAllowed, match="needs a reason"):
        store.review(1, ReviewAction.REJECT, actor="ann", at=NOW, reason="  ")
    draft = store.review(1, ReviewAction.REJECT, actor="ann", at=NOW, reason="not our customer")
    assert draft.status is DraftStatus.REJECTED and draft.reject_reason == "not our customer"


def test_edit_checks_the_channel_limit_and_needs_fresh_approval(store: Store) -> None:
    with pytest.raises(NotAllowed, match="x allows at most 280"):
        store.review(1, ReviewAction.EDIT, actor="ann", at=NOW, text="x" * 281)
    store.review(1, ReviewAction.APPROVE, actor="bob", at=NOW)
    edited = store.review(1, ReviewAction.EDIT, actor="ann", at=NOW, text="@user0 better reply")
    assert edited.status is DraftStatus.PENDING and edited.text == "@user0 better reply"
    assert edited.approved_by == ""


O2_NAMES = BrandSettings(
    name="O2", terms=["O2", "#O2"], display_name="O2 UK", x_handle="@O2"
).reply_names


@pytest.mark.parametrize(
    "text",
    [
        "Sorry, O2 UK here",
        "from the o2 team: sorry",
        "Sorry! @O2 care",
        "sorry #O2",
    ],
)
def test_an_edit_that_names_the_brand_is_taken(store: Store, text: str) -> None:
    edited = store.review(
        1, ReviewAction.EDIT, actor="ann", at=NOW, text=text, reply_names={"O2": O2_NAMES}
    )
    assert edited.text == text


@pytest.mark.parametrize("text", ["@user0 sorry about that", "CO2 levels are fine", "O2x"])
def test_an_edit_must_name_the_brand(store: Store, text: str) -> None:
    with pytest.raises(NotAllowed, match=r"must name the brand \(O2 UK\)"):
        store.review(
            1, ReviewAction.EDIT, actor="ann", at=NOW, text=text, reply_names={"O2": O2_NAMES}
        )
    assert store.draft(1).text == "@user0 sorry"  # unchanged, and still waiting
    assert store.draft(1).status is DraftStatus.PENDING


def test_four_eyes_stops_approving_your_own_edit(store: Store) -> None:
    store.review(2, ReviewAction.EDIT, actor="ann", at=NOW, text="@user1 new words")
    with pytest.raises(NotAllowed, match="another person must approve"):
        store.review(2, ReviewAction.APPROVE, actor="ann", at=NOW, four_eyes=True)
    assert (
        store.review(2, ReviewAction.APPROVE, actor="bob", at=NOW, four_eyes=True).status
        is DraftStatus.APPROVED
    )


def test_unknown_draft(store: Store) -> None:
    with pytest.raises(NotFound, match="no draft 99"):
        store.review(99, ReviewAction.APPROVE, actor="ann", at=NOW)


def test_every_action_is_in_the_history_and_the_audit_chain(store: Store) -> None:
    store.review(1, ReviewAction.EDIT, actor="ann", at=NOW, text="@user0 hello")
    store.review(1, ReviewAction.APPROVE, actor="bob", at=NOW)
    assert [h["action"] for h in store.draft_history(1)] == ["created", "edit", "approve"]
    actions = [r.action for r in store.audit(entity="draft", entity_id="1")]
    assert actions == ["draft.approve", "draft.edit"]
    check = store.verify_audit()
    assert check.ok and check.records == 3  # the ingest batch, the edit, the approval


def test_tampering_with_the_audit_log_is_detected(store: Store) -> None:
    store.review(1, ReviewAction.APPROVE, actor="bob", at=NOW)
    store.review(2, ReviewAction.REJECT, actor="bob", at=NOW, reason="spam")
    with store._write() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 2"))
    check = store.verify_audit()
    assert not check.ok and check.first_bad_id == 2 and "does not match its hash" in check.problem


def test_labels_correct_the_score_and_are_kept_for_retraining(store: Store) -> None:
    store.add_label(1, "dissatisfied", "false", actor="ann", at=NOW)
    store.add_label(2, "category", "praise", actor="ann", at=NOW)
    mentions = store.mentions_by_ids([1, 2])
    assert mentions[1].score.dissatisfied is False
    assert mentions[2].score.category is Category.PRAISE
    assert [label["kind"] for label in store.labels()] == ["dissatisfied", "category"]
    assert store.training_examples() == [
        {"text": "complaint 0", "dissatisfied": False},
        {"text": "complaint 1", "dissatisfied": False},
    ]
    assert store.audit(limit=1)[0].action == "score.override"
    with pytest.raises(NotFound):
        store.add_label(999, "category", "praise", actor="ann", at=NOW)


def test_not_about_us_cancels_the_waiting_reply(store: Store) -> None:
    store.add_label(3, "not_about_us", "", actor="ann", at=NOW)
    [draft] = [d for d in store.drafts(DraftFilter(status="all")) if d.mention_id == 3]
    assert draft.status is DraftStatus.CANCELLED and draft.reject_reason == "not about us"
    assert store.training_examples() == []


def test_unknown_labels_are_refused(store: Store) -> None:
    with pytest.raises(NotAllowed, match="label kind 'mood' is unknown"):
        store.add_label(1, "mood", "x", actor="ann", at=NOW)
    with pytest.raises(NotAllowed, match="category 'angry' is unknown"):
        store.add_label(1, "category", "angry", actor="ann", at=NOW)
