"""Crisis mode's pure rules: who may approve a statement or a crisis reply (every role, with
and without four eyes, editor and first approver), what each action needs, and statement
templates that say only what we know and cannot be steered by hostile text."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from listener.domain import Channel, Draft, DraftKind, DraftStatus, Statement, StatementStatus
from listener.errors import InvalidTransition, NotAllowed, SettingsError
from listener.outreach.crisis import (
    Approvals,
    ApprovalStep,
    StatementAction,
    approval_note,
    crisis_approval,
    decide_statement,
)
from listener.outreach.review import ReviewAction, decide
from listener.outreach.statement_text import StatementWriter, brand_slug
from listener.settings import BrandSettings
from tests.support.paths import REPO

AT = datetime(2026, 3, 9, 9, 40, tzinfo=UTC)
ROLES = [None, "viewer", "approver", "crisis", "admin"]
PEOPLE = ["", "ann", "bob"]


def expected(role: str | None, four_eyes: bool, edited_by: str, first: str) -> str:
    """The rule written out plainly, to compare the function with in every combination."""
    if role not in ("crisis", "admin"):
        return "refused"
    if not four_eyes:
        return "final"
    if edited_by == "ann" or first == "ann":
        return "refused"
    return "first" if not first else "final"


@pytest.mark.parametrize(
    ("role", "four_eyes", "edited_by", "first"),
    list(itertools.product(ROLES, [True, False], PEOPLE, PEOPLE)),
)
def test_the_approval_rule_in_every_combination(
    role: str | None, four_eyes: bool, edited_by: str, first: str
) -> None:
    approvals = Approvals("statement 1", edited_by, first)
    want = expected(role, four_eyes, edited_by, first)
    if want == "refused":
        with pytest.raises(NotAllowed):
            crisis_approval(approvals, actor="ann", role=role, four_eyes=four_eyes)
    else:
        step = crisis_approval(approvals, actor="ann", role=role, four_eyes=four_eyes)
        assert step is ApprovalStep(want)


def test_the_refusals_say_why() -> None:
    with pytest.raises(NotAllowed, match=r"needs a crisis approver .*cat is approver"):
        crisis_approval(
            Approvals("statement 1", "", ""), actor="cat", role="approver", four_eyes=True
        )
    with pytest.raises(NotAllowed, match="not a desk user"):
        crisis_approval(Approvals("statement 1", "", ""), actor="x", role=None, four_eyes=True)
    with pytest.raises(NotAllowed, match="last edited by ann"):
        crisis_approval(
            Approvals("statement 1", "ann", ""), actor="ann", role="crisis", four_eyes=True
        )


def test_the_note_says_what_is_still_needed() -> None:
    assert approval_note("", "", four_eyes=True) == "needs two crisis approvers"
    assert approval_note("", "", four_eyes=False) == "needs a crisis approver"
    assert approval_note("ann", "", four_eyes=True) == (
        "approved by ann; needs a second crisis approver"
    )
    assert approval_note("ann", "bob", four_eyes=True) == "approved by ann and bob"


def statement(status: StatementStatus = StatementStatus.DRAFT, **changes: object) -> Statement:
    base = Statement(
        1, 7, "O2", Channel.X, "statement", "O2: we are looking into it.", status, AT, AT
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_each_statement_action_from_each_status() -> None:
    allowed = {
        StatementAction.EDIT: {"draft", "approved", "failed"},
        StatementAction.REDRAFT: {"draft", "approved", "failed"},
        StatementAction.APPROVE: {"draft"},
        StatementAction.CANCEL: {"draft", "approved", "failed"},
        StatementAction.POSTED: {"approved", "failed"},
    }
    for action, status in itertools.product(StatementAction, StatementStatus):
        s = statement(status, channel=Channel.MANUAL, needs_check=True)

        def call(s: Statement = s, action: StatementAction = action) -> None:
            decide_statement(s, action, actor="ann", role="crisis", four_eyes=False, text="O2 here")

        if status.value not in allowed[action]:
            with pytest.raises(InvalidTransition):
                call()
        elif action in (StatementAction.EDIT, StatementAction.REDRAFT) and status.value == "failed":
            with pytest.raises(NotAllowed, match="may already be public"):
                call()
        else:
            call()


def test_an_edit_goes_back_to_draft_and_only_doubtful_or_manual_ones_are_recorded_posted() -> None:
    edited = decide_statement(
        statement(StatementStatus.APPROVED),
        StatementAction.EDIT,
        actor="a",
        role=None,
        four_eyes=True,
        text="O2: new words",
    )
    assert edited.to is StatementStatus.DRAFT
    with pytest.raises(InvalidTransition, match="only an approved manual statement"):
        decide_statement(
            statement(StatementStatus.APPROVED),
            StatementAction.POSTED,
            actor="a",
            role=None,
            four_eyes=True,
        )
    with pytest.raises(NotAllowed, match="no text"):
        decide_statement(
            statement(text=" "), StatementAction.APPROVE, actor="a", role="crisis", four_eyes=True
        )


def test_a_crisis_reply_needs_crisis_approval_and_a_routine_one_does_not() -> None:
    draft = Draft(3, 9, "O2", Channel.X, "statement_reply", "O2 here", DraftStatus.PENDING, AT, AT)
    assert (
        decide(draft, ReviewAction.APPROVE, actor="cat", role="approver").to is DraftStatus.APPROVED
    )
    crisis = replace(draft, kind=DraftKind.CRISIS)
    with pytest.raises(NotAllowed, match="crisis reply 3 needs a crisis approver"):
        decide(crisis, ReviewAction.APPROVE, actor="cat", role="approver")
    first = decide(crisis, ReviewAction.APPROVE, actor="ann", role="crisis")
    assert (first.step, first.to) == (ApprovalStep.FIRST, DraftStatus.PENDING)
    final = decide(
        replace(crisis, first_approved_by="ann"), ReviewAction.APPROVE, actor="bob", role="crisis"
    )
    assert (final.step, final.to) == (ApprovalStep.FINAL, DraftStatus.APPROVED)
    alone = decide(crisis, ReviewAction.APPROVE, actor="ann", role="admin", crisis_four_eyes=False)
    assert alone.to is DraftStatus.APPROVED


# -- the statement template --------------------------------------------------------------------

HOSTILE = "{{ 7*7 }}{% for x in range(3) %}x{% endfor %}<script>alert(1)</script>"


@pytest.fixture(scope="module")
def writer() -> StatementWriter:
    return StatementWriter(REPO / "templates")


@pytest.mark.parametrize("channel", list(Channel))
def test_a_statement_names_the_brand_says_what_we_know_and_where_updates_will_be(
    writer: StatementWriter, channel: Channel
) -> None:
    brand = BrandSettings(name="O2", terms=["O2"], updates_url="https://status.o2.example")
    name, text = writer.statement(brand, "privacy/data breach", AT, channel)
    assert name == "statement"
    assert text.count("O2") >= 1 and "https://status.o2.example" in text
    assert "personal data" in text and "9 March 2026, 09:40 UTC" in text
    assert len(text) <= {Channel.X: 280, Channel.EMAIL: 5000, Channel.MANUAL: 2000}[channel]


def test_hostile_brand_and_incident_text_stays_text(writer: StatementWriter) -> None:
    brand = BrandSettings(
        name="O2",
        terms=["O2"],
        display_name=f"O2 {HOSTILE}",
        updates_url=f"https://x.example/{HOSTILE}",
    )
    _, text = writer.statement(brand, f"outage/service down {HOSTILE}", AT, Channel.EMAIL)
    assert "{{ 7*7 }}" in text and "49" not in text and "xxx" not in text
    assert "<script>alert(1)</script>" in text  # plain text here; the desk escapes it
    _, reply = writer.reply(brand, f"@evil{HOSTILE}", Channel.MANUAL, "https://x.com/O2/status/1")
    assert "49" not in reply and "{{ 7*7 }}" in reply


def test_a_brand_may_have_its_own_statement_and_a_language_its_own(
    tmp_path: Path, writer: StatementWriter
) -> None:
    folder = tmp_path
    (folder / "outreach" / "es").mkdir(parents=True)
    (folder / "outreach" / f"statement.{brand_slug('Skyline Air')}.txt.j2").write_text(
        "{{ c.brand }} is on it: {{ c.type_label }}. {{ c.updates_url }}"
    )
    (folder / "outreach" / "es" / "statement.txt.j2").write_text(
        "{{ c.brand }}: estamos investigando ({{ c.type_label }})."
    )
    own = StatementWriter(folder)
    sky = BrandSettings(name="Skyline Air", terms=["Skyline Air"], updates_url="https://s.example")
    assert own.statement(sky, "outage/service down", AT, Channel.X) == (
        "statement.skyline-air",
        "Skyline Air is on it: Service outage. https://s.example",
    )
    es = BrandSettings(name="O2", terms=["O2"], language="es")
    assert own.statement(es, "other", AT, Channel.X)[0] == "es/statement"


@pytest.mark.parametrize(
    ("language", "brand_name", "says"),
    [
        ("es", "Nimbus Mobile", "datos personales de clientes"),
        ("zh", "Nimbus Mobile", "客户个人信息"),
        ("zh", "云移动", "客户个人信息"),
    ],
)
def test_spanish_and_chinese_statements_ship_and_name_the_brand(
    writer: StatementWriter, language: str, brand_name: str, says: str
) -> None:
    brand = BrandSettings(
        name=brand_name, terms=[brand_name], language=language, updates_url="https://s.example"
    )
    for channel in Channel:
        name, text = writer.statement(brand, "privacy/data breach", AT, channel)
        assert name == f"{language}/statement"
        assert brand_name in text and says in text and "https://s.example" in text
        assert "personal data" not in text  # not the English wording
        assert len(text) <= {Channel.X: 280, Channel.EMAIL: 5000, Channel.MANUAL: 2000}[channel]
        name, reply = writer.reply(brand, "@dana", channel, "https://x.example/s/1")
        assert name == f"{language}/statement_reply" and brand_name in reply


def test_a_language_statement_that_does_not_name_the_brand_stops_start_up(
    tmp_path: Path,
) -> None:
    (tmp_path / "outreach" / "fr").mkdir(parents=True)
    (tmp_path / "outreach" / "fr" / "statement.txt.j2").write_text("Nous enquêtons.")
    with pytest.raises(SettingsError, match=r"fr/statement\.txt\.j2 does not name the brand"):
        StatementWriter(tmp_path)


def test_a_statement_template_that_does_not_name_the_brand_stops_start_up(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "outreach").mkdir()
    (folder / "outreach" / "statement.txt.j2").write_text("We are looking into it.")
    with pytest.raises(SettingsError, match="does not name the brand"):
        StatementWriter(folder)
