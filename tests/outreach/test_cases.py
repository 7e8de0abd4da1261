"""Complaint cases: one per unhappy author and brand, a lifecycle people move along, and the
SLA figures (time to first response, time to resolution) with breaches alerted once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.errors import InvalidTransition, NotAllowed
from listener.outreach.cases import CaseStatus, check_root_cause, check_transition, sla
from listener.settings import Settings, load_settings
from tests.support.cli import listener_cli
from tests.support.fakes.x_api import XApiServer
from tests.support.outreach import NOW, World, build_world, x_mention
from tests.support.paths import REPO

WorldFactory = Callable[..., World]
HOUR = timedelta(hours=1)


# -- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        ("new", "investigating"),
        ("new", "closed_not_complaint"),
        ("investigating", "responded"),
        ("responded", "resolved"),
        ("resolved", "investigating"),
        ("closed_not_complaint", "investigating"),
    ],
)
def test_cases_move_forward_and_can_be_reopened(current: str, wanted: str) -> None:
    check_transition(CaseStatus(current), CaseStatus(wanted))


@pytest.mark.parametrize(
    ("current", "wanted"),
    [("resolved", "responded"), ("closed_not_complaint", "resolved"), ("resolved", "new")],
)
def test_a_closed_case_must_be_reopened_first(current: str, wanted: str) -> None:
    with pytest.raises(InvalidTransition, match=f"a {current} case cannot become {wanted}"):
        check_transition(CaseStatus(current), CaseStatus(wanted))


def test_root_causes_are_tags_from_a_known_list() -> None:
    assert check_root_cause("Bought-in contact list") == "bought_in_contact_list"
    assert check_root_cause("staff error") == "staff_error"
    with pytest.raises(NotAllowed, match="expected one of bought_in_contact_list"):
        check_root_cause("gremlins")


def test_sla_figures_and_breaches() -> None:
    targets = {"first_response_target": 4 * HOUR, "resolution_target": 72 * HOUR}
    on_time = sla(
        status=CaseStatus.RESOLVED,
        opened_at=NOW,
        first_response_at=NOW + HOUR,
        resolved_at=NOW + 10 * HOUR,
        now=NOW + 100 * HOUR,
        **targets,
    )
    assert on_time.time_to_first_response_s == 3600 and on_time.time_to_resolution_s == 36000
    assert not on_time.breached
    waiting = sla(
        status=CaseStatus.NEW,
        opened_at=NOW,
        first_response_at=None,
        resolved_at=None,
        now=NOW + 5 * HOUR,
        **targets,
    )
    assert waiting.time_to_first_response_s is None and waiting.breach_kinds == ["first_response"]
    not_ours = sla(
        status=CaseStatus.CLOSED_NOT_COMPLAINT,
        opened_at=NOW,
        first_response_at=None,
        resolved_at=NOW + HOUR,
        now=NOW + 100 * HOUR,
        **targets,
    )
    assert not not_ours.breached


# -- cases as the service keeps them ---------------------------------------------------------


@pytest.fixture
def world(
    world_factory: WorldFactory,
    make_settings: Callable[..., Settings],
    x_api: XApiServer,
    db_url: str,
) -> World:
    return world_factory(make_settings(database={"url": db_url}, x_publish={"api_url": x_api.url}))


def test_one_case_per_unhappy_author_and_brand_with_its_mentions_and_drafts(
    world: World,
    x_api: XApiServer,
) -> None:
    dana, eli = x_api.add_user("dana"), x_api.add_user("eli")
    drafts = world.ingest(
        x_mention(x_api, dana, "@O2 no signal"),
        x_mention(x_api, dana, "@O2 still no signal"),
        x_mention(x_api, eli, "@O2 bill is wrong"),
        x_mention(x_api, dana, "@SkylineAir lost my bag"),
    )
    cases = world.store.outreach.cases()
    by_key = {(c.brand, c.author): c for c in cases}
    assert set(by_key) == {("O2", "dana"), ("O2", "eli"), ("Skyline Air", "dana")}
    dana_o2 = by_key[("O2", "dana")]
    assert dana_o2.status is CaseStatus.NEW and dana_o2.opened_at == NOW
    assert len(dana_o2.mention_ids) == 2
    assert set(dana_o2.draft_ids) == {d.id for d in drafts if d.mention_id in dana_o2.mention_ids}

    # Running the step again on the same mentions changes nothing, not even the audit log.
    records = len(world.store.audit(limit=1000))
    stored = world.store.mentions_by_ids(list(dana_o2.mention_ids)).values()
    for step in world.listener.pipeline.after_store:
        step(list(stored), NOW)
    assert len(world.store.outreach.cases()) == 3
    assert len(world.store.audit(limit=1000)) == records
    assert [r.action for r in world.store.audit(entity="case")].count("case.open") == 3


def test_the_first_reply_sent_is_the_first_response(
    world: World,
    x_api: XApiServer,
) -> None:
    (draft,) = world.ingest(x_mention(x_api, x_api.add_user("fay"), "@O2 broken router"))
    world.advance(hours=1)
    world.approve(draft)
    world.advance(minutes=30)
    world.dispatcher().run_once()
    (case,) = world.store.outreach.cases()
    assert case.status is CaseStatus.RESPONDED
    assert case.first_response_at == NOW + timedelta(hours=1, minutes=30)
    settings = world.listener.settings.outreach
    figures = case.figures(world.clock.now(), settings.first_response_sla, settings.resolution_sla)
    assert figures.time_to_first_response_s == 5400 and not figures.breached


def test_people_move_a_case_along_and_every_change_is_audited(
    world: World,
    x_api: XApiServer,
) -> None:
    gus = x_api.add_user("gus")
    world.ingest(x_mention(x_api, gus, "@O2 who sold you my number?"))
    cases = world.store.outreach
    (case,) = cases.cases()
    cases.update_case(case.id, actor="ann", at=NOW, status="investigating", owner="ann")
    cases.update_case(
        case.id, actor="ann", at=NOW, root_cause="bought-in contact list", note="list from X Ltd"
    )
    world.advance(hours=30)
    done = cases.update_case(case.id, actor="bob", at=world.clock.now(), status="resolved")
    assert done.status is CaseStatus.RESOLVED and done.resolved_at == NOW + 30 * HOUR
    assert done.owner == "ann" and done.root_cause == "bought_in_contact_list"
    assert done.notes[0]["text"] == "list from X Ltd" and done.notes[0]["by"] == "ann"
    audits = world.store.audit(entity="case", entity_id=str(case.id))
    updates = [r for r in audits if r.action == "case.update"]
    assert len(updates) == 3 and updates[0].before == {"status": "investigating"}
    assert updates[0].after == {"status": "resolved"} and updates[0].actor == "bob"

    # A new complaint after resolution opens a new case; the old one cannot be reopened then.
    world.ingest(x_mention(x_api, gus, "@O2 you texted me again"))
    (new_case,) = [c for c in cases.cases() if c.status is CaseStatus.NEW]
    assert new_case.id != case.id
    with pytest.raises(InvalidTransition, match=f"case {new_case.id} is already open for gus"):
        cases.update_case(case.id, actor="bob", at=NOW, status="investigating")
    with pytest.raises(NotAllowed, match="case status 'done' is unknown"):
        cases.update_case(case.id, actor="bob", at=NOW, status="done")


def test_a_breached_sla_is_alerted_once(
    world: World,
    x_api: XApiServer,
) -> None:
    world.ingest(x_mention(x_api, x_api.add_user("hal"), "@O2 nobody answers"))
    assert world.dispatcher().run_once().sla_breaches == []
    world.advance(hours=4, seconds=1)
    first = world.dispatcher().run_once()
    second = world.dispatcher().run_once()
    (case,) = world.store.outreach.cases()
    assert first.sla_breaches == [case.id] and second.sla_breaches == []
    assert case.sla_breach_alerted_at == NOW + timedelta(hours=4, seconds=1)
    (record,) = world.store.audit(entity="case", entity_id=str(case.id), limit=1)
    assert record.action == "case.sla_breach" and record.after["breaches"] == ["first_response"]
    # The responders hear of it through the alert outbox, once.
    from listener.store.alerts import unrouted

    with world.store._read() as conn:
        (alert,) = [a for a in unrouted(conn) if a.kind == "case.sla_breach"]
    assert alert.brand == "O2" and alert.body["case_id"] == case.id
    assert alert.title == f"Case {case.id} (hal, O2) missed its first response target"
    assert alert.body["url"].endswith(f"/cases/{case.id}")


# -- listener cases --------------------------------------------------------------------------


def test_listener_cases_json_shows_the_lifecycle_and_sla_figures(
    tmp_path: Path,
    x_api: XApiServer,
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///l.db"\n'
        '[[brands]]\nname = "O2"\nterms = ["O2", "@O2"]\n'
        '[scoring]\nmodel = "lexicon"\n'
        f'[outreach]\ntemplates_dir = "{REPO / "templates"}"\nfirst_response_sla = "1h"\n'
        f'[x_publish]\napi_url = "{x_api.url}"\n'
    )
    # Opened three hours ago by the real clock, which `listener cases` measures against.
    opened = datetime.now(UTC) - timedelta(hours=3)
    world = build_world(load_settings(config, environ={}), start=opened)
    try:
        (draft,) = world.ingest(x_mention(x_api, x_api.add_user("ivy"), "@O2 refund please"))
        world.approve(draft)
        world.advance(hours=2)  # answered after two hours: the one-hour SLA is breached
        world.dispatcher().run_once()
    finally:
        world.listener.close()

    (case,) = json.loads(listener_cli(config, "cases", "--json").stdout)
    assert case["status"] == "responded" and case["author"] == "ivy"
    assert case["time_to_first_response_s"] == 7200 and case["time_to_resolution_s"] is None
    assert case["sla_breached"] is True and case["sla_breaches"] == ["first_response"]
    assert case["draft_ids"] == [draft.id] and len(case["mention_ids"]) == 1
    assert {"id", "brand", "owner", "root_cause", "opened_at", "first_response_at"} <= set(case)

    updated = listener_cli(
        config,
        "cases",
        "update",
        str(case["id"]),
        "--status",
        "resolved",
        "--owner",
        "ann",
        "--root-cause",
        "technical_fault",
        "--note",
        "mast repaired",
        "--as",
        "ann",
    )
    assert updated.returncode == 0, updated.stderr
    after = json.loads(updated.stdout)
    assert after["status"] == "resolved" and after["owner"] == "ann"
    assert after["root_cause"] == "technical_fault" and after["time_to_resolution_s"] > 3 * 3600
    bad = listener_cli(config, "cases", "update", str(case["id"]), "--status", "responded")
    assert bad.returncode == 1 and "a resolved case cannot become responded" in bad.stderr
    missing = listener_cli(config, "cases", "update", "999", "--note", "x")
    assert missing.returncode == 1 and "there is no case 999" in missing.stderr
