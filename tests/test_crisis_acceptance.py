"""Acceptance for crisis mode (issue 26), driven the way a user drives it.

A replay of a story: three calm days for a mobile network, Voxa Mobile, then customers'
phone numbers leak and hundreds of angry people (a few of them with large followings) post
about it within an hour; a smaller storm about an airline follows. Everything runs as real
processes: `listener import FILE --replay`, `listener queue ...`, `listener dispatch`,
`listener incidents ...`, `listener statements ...`, and `listener serve` driven from a real
headless Chromium. Replies and statements reach a local X API v2-shaped server and a local
SMTP server, alerts a local webhook, and the assertions are about what those received.

What the issue asks, and where it is checked:

- zero routine replies reach the incident's authors without a person releasing them (replies
  drafted during the storm are held; ones a person approved before it was high are held at
  send time);
- one holding statement per channel (a post on X that is not a reply, one email to the press
  list), after two different people with the crisis role approved it; an approver cannot;
  posting or dispatching again sends nothing more;
- the held replies are on the incident page and are released (pending again, approval
  cleared) or cancelled in bulk there;
- near-duplicate replies to different authors are held at send time with the reason; a
  reworded one goes.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import launched_chromium
from tests.support.cli import run_listener
from tests.support.fakes.x_api import XApiServer
from tests.support.http_server import LocalServer
from tests.support.outreach import X_KEYS, SmtpServer
from tests.support.paths import REPO

SHOTS = REPO / "docs" / "screenshots"
BRAND = "Voxa Mobile"
AIRLINE = "Skyline Air"
STORY = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # the leak is first reported
EARLY_END = STORY + timedelta(minutes=2)  # the first file ends here, before it is high
AIRLINE_STORY = STORY + timedelta(hours=2)
PRESS = ["desk@paper.example", "news@wire.example"]
UPDATES = "https://status.voxa.example/leak"
PASSWORD = "a long crisis password"
STORM_SIZE = 300

ANGRY = [
    "@VoxaMobile you leaked my phone number?? my details are out there now, furious",
    "Voxa Mobile data breach exposed customers' phone numbers. Disgraceful, I want answers",
    "@VoxaMobile when were you going to tell us about the phone number leak? Terrible",
    "Voxa leaked my number and my address, strangers have it now. Awful company",
    "Is it true Voxa Mobile leaked millions of phone numbers? Cancelling my contract, disgusted",
    "@VoxaMobile the leak of our phone numbers is a disgrace, how do I check if mine was exposed",
]
STRANDED = [
    "Skyline Air check-in system is down at every airport, total outage, thousands stranded",
    "@SkylineAir your booking site and app are down everywhere, outage all morning, cannot check in",
    "Skyline Air outage: website, app and check-in all down nationwide, disgraceful",
]
CALM = {
    BRAND: [
        "Voxa Mobile signal in Leeds is great today",
        "Switched to Voxa Mobile last month, easy and cheap",
        "Anyone know if Voxa Mobile does eSIM on the new phones?",
        "@VoxaMobile charged me twice this month and support hung up on me, furious",
    ],
    AIRLINE: [
        "Lovely crew on my Skyline Air flight to Porto",
        "Skyline Air announces new routes to Split next summer",
    ],
    "Northwind Bank": [
        "Northwind Bank app update looks nice",
        "Opened a savings account with Northwind Bank today",
    ],
}
# Two people with the same complaint on a calm day, in no incident: their replies come from
# the same template, so the second one sent would echo the first.
ECHO_PAIR = (
    ("nw_dana", "@NorthwindBank charged me twice for one transfer and nobody answers, awful"),
    ("nw_sam", "@NorthwindBank took my money twice this week and support is useless, awful"),
)


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Scenario:
    """The two replay files and who is who on the local X server."""

    early: Path  # three calm days and the first minutes of the story
    storm: Path  # the rest of the hour, and the airline's storm
    handle_of: dict[str, str] = field(default_factory=dict)  # X post id -> @handle
    user_of: dict[str, str] = field(default_factory=dict)  # @handle -> X user id
    story: set[tuple[str, str]] = field(default_factory=set)  # (source, id) of the leak's posts
    amplifiers: dict[str, int] = field(default_factory=dict)  # @handle -> followers


def write_scenario(folder: Path, x_api: XApiServer) -> Scenario:
    """Deterministic: the same files (and X post ids) every run. Each X mention is a post on
    the local X server too, so a reply to it is recorded with the user it answers."""
    rng = random.Random(26)
    scenario = Scenario(folder / "early.jsonl", folder / "storm.jsonl")
    rows: list[dict[str, Any]] = []

    def on_x(text: str, username: str, at: datetime, followers: int, label: str = "") -> None:
        user = x_api.add_user(username, followers=followers)
        post = x_api.add_tweet(text, author=user, created_at=at)
        scenario.handle_of[post.id] = f"@{username}"
        scenario.user_of[f"@{username}"] = user.id
        row = {
            "source": "x-search",
            "source_kind": "x",
            "external_id": post.id,
            "text": text,
            "author": f"@{username}",
            "author_name": user.name,
            "author_followers": followers,
            "url": f"https://x.com/{username}/status/{post.id}",
            "published_at": at.isoformat(),
        }
        if label:
            row["incident"] = label
        rows.append(row)

    n = 0
    at = STORY - timedelta(days=3)
    while at < STORY - timedelta(minutes=30):
        n += 1
        brand = rng.choice(list(CALM))
        on_x(rng.choice(CALM[brand]), f"calm{n}", at, rng.randint(20, 3000))
        at += timedelta(minutes=rng.randint(25, 70))
    for k, (username, text) in enumerate(ECHO_PAIR):
        on_x(text, username, STORY - timedelta(days=1, minutes=k * 7), 300)

    amplifiers = {3: 420_000, 40: 250_000, 90: 1_400_000}
    for k in range(STORM_SIZE):
        at = STORY + timedelta(seconds=k * 3500 // STORM_SIZE + rng.randint(0, 10))
        text = ANGRY[k % len(ANGRY)]
        if k % 25 == 7:  # some write to the support inbox instead
            address = f"reader{k}@mail.example"
            scenario.story.add(("support-inbox", f"mail-{k}"))
            rows.append(
                {
                    "source": "support-inbox",
                    "source_kind": "feed",
                    "external_id": f"mail-{k}",
                    "title": "Phone number leak",
                    "text": text,
                    "author": address,
                    "author_email": address,
                    "published_at": at.isoformat(),
                    "incident": "voxa-leak",
                }
            )
            continue
        followers = amplifiers.get(k, rng.randint(10, 5000))
        if k in amplifiers:
            scenario.amplifiers[f"@angry{k}"] = followers
        on_x(text, f"angry{k}", at, followers, "voxa-leak")
        scenario.story.add(("x-search", rows[-1]["external_id"]))
    for k in range(14):
        at = AIRLINE_STORY + timedelta(minutes=k, seconds=rng.randint(0, 50))
        followers = 1_600_000 if k == 2 else rng.randint(10, 3000)
        on_x(STRANDED[k % len(STRANDED)], f"flyer{k}", at, followers, "skyline-outage")

    rows.sort(key=lambda r: (r["published_at"], r["external_id"]))
    for path, part in (
        (scenario.early, [r for r in rows if r["published_at"] < EARLY_END.isoformat()]),
        (scenario.storm, [r for r in rows if r["published_at"] >= EARLY_END.isoformat()]),
    ):
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    return scenario


def write_settings(
    folder: Path, db_url: str, x_api: XApiServer, smtp: SmtpServer, hooks: LocalServer
) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        f"""
[database]
url = {json.dumps(db_url)}

[scoring]
workers = 0

[service]
fetch_worker = false

[[brands]]
name = "{BRAND}"
terms = ["Voxa", "@VoxaMobile", "Voxa Mobile"]
x_handle = "@VoxaMobile"
support_url = "https://voxa.example/help"
updates_url = "{UPDATES}"
press_list = {json.dumps(PRESS)}

[[brands]]
name = "{AIRLINE}"
terms = ["Skyline Air", "@SkylineAir"]
x_handle = "@SkylineAir"
support_url = "https://skyline.example/help"

[[brands]]
name = "Northwind Bank"
terms = ["Northwind Bank", "@NorthwindBank"]
x_handle = "@NorthwindBank"
support_url = "https://northwind.example/help"

[outreach]
templates_dir = {json.dumps(str(REPO / "templates"))}

[x_publish]
api_url = "{x_api.url}"
timeout = "5s"

[email]
sender = "press@voxa.example"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}

[web]
port = {free_port()}

[[alerts]]
name = "hook"
kind = "webhook"
url = "{hooks.url("/hook")}"
""",
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- running listener as a user does ------------------------------------------------------------


class Shell:
    """`listener ...` in the settings file's folder, with the brand's X keys set."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def run(
        self, *args: str, ok: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        if stdin is None:
            result = run_listener(
                *args, cwd=self.config.parent, LISTENER_CONFIG=str(self.config), **X_KEYS
            )
        else:
            result = subprocess.run(
                [sys.executable, "-m", "listener", *args],
                input=stdin,
                capture_output=True,
                text=True,
                cwd=self.config.parent,
                env={**_env(), "LISTENER_CONFIG": str(self.config)},
                timeout=120,
            )
        if ok:
            assert result.returncode == 0, f"{args}\nstdout:{result.stdout}\nstderr:{result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        """A command's JSON: listings and `show` take --json, actions always print it."""
        action = args[0] == "statements" and len(args) > 1 and not args[1].startswith("-")
        flag = () if action else ("--json",)
        return json.loads(self.run(*args, *flag).stdout)

    def drafts(self, status: str = "all") -> list[dict[str, Any]]:
        return self.json("queue", "--status", status, "--limit", "100000")  # type: ignore[no-any-return]

    def incident(self, incident_id: int) -> dict[str, Any]:
        return self.json("incidents", "show", str(incident_id))  # type: ignore[no-any-return]

    def dispatch(self) -> dict[str, Any]:
        # Exit 1 means a reply needs a person (failed); nothing here should.
        return self.json("dispatch")  # type: ignore[no-any-return]


def _env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_")}
    return {**base, "COLUMNS": "200", **X_KEYS}


def add_users(shell: Shell) -> None:
    for name, role in (("ann", "crisis"), ("bob", "crisis"), ("cat", "approver")):
        shell.run("users", "add", name, "--role", role, stdin=PASSWORD + "\n")


# -- what the local servers received ------------------------------------------------------------


def replies_to(x_api: XApiServer, user_ids: set[str]) -> list[Any]:
    return [p for p in x_api.posts if p.in_reply_to_tweet_id and p.in_reply_to_user_id in user_ids]


def own_posts(x_api: XApiServer) -> list[Any]:
    """Posts from the brand that answer nobody: holding statements."""
    return [p for p in x_api.posts if not p.in_reply_to_tweet_id]


def mail_to(smtp: SmtpServer, addresses: set[str]) -> list[tuple[str, list[str]]]:
    with smtp.inbox.lock:
        envelopes = list(smtp.inbox.envelopes)
    return [e for e in envelopes if addresses & set(e[1])]


# -- the story up to the storm, shared by both tests --------------------------------------------


@dataclass
class Storm:
    shell: Shell
    scenario: Scenario
    leak: dict[str, Any]  # the Voxa incident, as `incidents show --json` has it
    airline: dict[str, Any]
    approved_early: list[dict[str, Any]]  # its replies a person approved before it was high
    echo_drafts: list[dict[str, Any]]  # the two Northwind replies, approved

    _authors: dict[int, tuple[set[str], set[str]]] = field(default_factory=dict)

    def authors(self, incident: dict[str, Any]) -> tuple[set[str], set[str]]:
        """The incident's authors: (their X user ids, their email addresses)."""
        if incident["id"] not in self._authors:
            found = {author_of(d, self.scenario) for d in self.routine_drafts(incident)}
            x_users = {self.scenario.user_of[a] for a in found if a.startswith("@")}
            self._authors[incident["id"]] = x_users, {a for a in found if not a.startswith("@")}
        return self._authors[incident["id"]]

    def routine_drafts(self, incident: dict[str, Any]) -> list[dict[str, Any]]:
        mentions = set(incident["mention_ids"])
        return [
            d for d in self.shell.drafts() if d["mention_id"] in mentions and d["kind"] == "routine"
        ]

    def nothing_reached(
        self, incident: dict[str, Any], x_api: XApiServer, smtp: SmtpServer
    ) -> None:
        x_users, emails = self.authors(incident)
        assert x_users and replies_to(x_api, x_users) == []
        assert emails and mail_to(smtp, emails) == []


def author_of(draft: dict[str, Any], scenario: Scenario) -> str:
    if draft["channel"] == "x":
        return scenario.handle_of[draft["recipient"]]
    return str(draft["recipient"])


def replay_the_story(
    tmp_path: Path,
    db_url: str,
    x_api: XApiServer,
    smtp: SmtpServer,
    hooks: LocalServer,
) -> Storm:
    hooks.route("/hook", status=200)
    scenario = write_scenario(tmp_path, x_api)
    shell = Shell(write_settings(tmp_path, db_url, x_api, smtp, hooks))
    add_users(shell)

    # The first minutes: the story is out, but small. An approver approves three replies to
    # people in it (two on X, one by email) and the calm-day Northwind pair, as on any morning.
    shell.run("import", str(scenario.early), "--replay")
    [early] = [i for i in shell.json("incidents") if i["brand"] == BRAND]
    assert early["severity"] not in ("high", "critical") and not early["outreach_hold"]
    in_it = set(shell.incident(early["id"])["mention_ids"])
    pending = shell.drafts("pending")
    story = [d for d in pending if d["mention_id"] in in_it]
    on_x = [d for d in story if d["channel"] == "x"][:2]
    by_mail = [d for d in story if d["channel"] == "email"][:1]
    assert len(on_x) == 2 and len(by_mail) == 1, "the early minutes have X and email replies"
    echo = [d for d in pending if author_of(d, scenario) in {f"@{u}" for u, _ in ECHO_PAIR}]
    assert len(echo) == 2
    for draft in [*on_x, *by_mail, *echo]:
        shell.run("queue", "approve", str(draft["id"]), "--as", "cat")

    # The storm: hundreds of angry mentions within the hour, then the airline's outage.
    shell.run("import", str(scenario.storm), "--replay")
    incidents = shell.json("incidents")
    [leak] = [i for i in incidents if i["brand"] == BRAND]
    assert leak["id"] == early["id"] and leak["type"] == "privacy/data breach"
    assert leak["severity"] in ("high", "critical") and leak["mention_count"] > 250
    [airline] = [i for i in incidents if i["brand"] == AIRLINE]
    assert airline["severity"] in ("high", "critical")
    return Storm(
        shell,
        scenario,
        shell.incident(leak["id"]),
        shell.incident(airline["id"]),
        [*on_x, *by_mail],
        echo,
    )


def check_held_and_alerted(storm: Storm, hooks: LocalServer) -> None:
    """After the replay: every routine reply of the storm waits under its incident, except
    the ones approved early (held when the dispatcher gets to them); the alerts say so."""
    leak = storm.leak
    routine = storm.routine_drafts(leak)
    assert len(routine) >= STORM_SIZE - 20
    early_ids = {d["id"] for d in storm.approved_early}
    held_ids = {h["id"] for h in leak["held_drafts"]}
    assert held_ids == {d["id"] for d in routine} - early_ids
    assert {d["status"] for d in routine if d["id"] in early_ids} == {"approved"}
    assert leak["outreach_hold"] == "auto" and leak["outreach_held"]
    prefix = f"held: incident #{leak['id']} (Data breach at {BRAND}, "
    assert all(h["reason"].startswith(prefix) for h in leak["held_drafts"])

    bodies = [json.loads(r.body) for r in hooks.requests if r.path == "/hook"]
    about = [b for b in bodies if b.get("incident_id") == leak["id"]]
    assert [b["outreach_on_hold"] for b in about][:1] == [False], "not on hold while it is low"
    on_hold = [b for b in about if b["outreach_on_hold"]]
    assert on_hold and all(b["severity"] in ("high", "critical") for b in on_hold)
    assert on_hold[0]["outreach"].startswith(f"Routine outreach for {BRAND} is on hold: ")
    assert on_hold[-1]["held_replies"] > 100
    alerts = storm.shell.json("alerts")
    assert {a["status"] for a in alerts} <= {"sent", "superseded"}, "none failed or waiting"


def dispatch_sends_nothing_to_the_storm(
    storm: Storm, x_api: XApiServer, smtp: SmtpServer
) -> dict[str, Any]:
    """The dispatcher: the replies approved early are held at send time, under the incident,
    with the reason; nothing reaches the incident's authors."""
    report = storm.shell.dispatch()
    for draft in storm.approved_early:
        assert report["held"][str(draft["id"])].startswith(f"held: incident #{storm.leak['id']}")
    leak = storm.shell.incident(storm.leak["id"])
    routine = storm.routine_drafts(leak)
    assert {h["id"] for h in leak["held_drafts"]} == {d["id"] for d in routine}
    approved_early = [h for h in leak["held_drafts"] if h["approved_by"] == "cat"]
    assert len(approved_early) == len(storm.approved_early)
    storm.nothing_reached(leak, x_api, smtp)
    storm.leak = leak
    return report


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def hooks() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


# -- the whole story from the shell, on SQLite and PostgreSQL -----------------------------------


@pytest.mark.timeout(300)
def test_a_replayed_storm_from_the_shell_holds_replies_until_released_and_speaks_once(
    tmp_path: Path,
    db_url: str,
    x_api: XApiServer,
    smtp_server: SmtpServer,
    hooks: LocalServer,
) -> None:
    storm = replay_the_story(tmp_path, db_url, x_api, smtp_server, hooks)
    shell, scenario, leak_id = storm.shell, storm.scenario, storm.leak["id"]
    check_held_and_alerted(storm, hooks)

    # The dispatcher: nothing to the storm's authors; of the Northwind pair one goes, the
    # other echoes it and goes back to the queue with the reason.
    report = dispatch_sends_nothing_to_the_storm(storm, x_api, smtp_server)
    first, second = sorted(storm.echo_drafts, key=lambda d: str(d["id"]) not in report["sent"])
    assert list(report["sent"]) == [str(first["id"])], report
    reason = report["held"][str(second["id"])]
    assert re.match(
        rf"nearly the same as the reply sent to {author_of(first, scenario)} .*"
        rf"\(draft #{first['id']}\): reword it",
        reason,
    ), reason
    shown = json.loads(shell.run("queue", "show", str(second["id"])).stdout)
    assert shown["status"] == "pending" and shown["approved_by"] is None
    assert shown["hold_reason"] == reason
    assert len([p for p in x_api.posts if p.in_reply_to_tweet_id]) == 1

    # Approved again unchanged, it echoes again; reworded and approved, it goes.
    shell.run("queue", "approve", str(second["id"]), "--as", "cat")
    again = shell.dispatch()
    assert str(second["id"]) in again["held"] and again["sent"] == {}
    reworded = (
        f"{author_of(second, scenario)} sorry to hear a payment was taken twice. Our team has "
        "flagged it for a refund today; if it is not back by Friday, call us on the number "
        "at https://northwind.example/help and quote NW-2 for Northwind Bank."
    )
    shell.run("queue", "edit", str(second["id"]), "--text", reworded, "--as", "cat")
    shell.run("queue", "approve", str(second["id"]), "--as", "cat")
    sent = shell.dispatch()
    assert list(sent["sent"]) == [str(second["id"])], sent
    northwind = [p for p in x_api.posts if p.in_reply_to_tweet_id]
    assert [p.text for p in northwind][-1] == reworded and len(northwind) == 2

    # Holding statements: one per channel, two crisis approvals, an approver cannot.
    statements = {}
    for channel in ("x", "email"):
        made = shell.json("statements", "draft", str(leak_id), "--channel", channel, "--as", "ann")
        statements[channel] = made["id"]
        assert BRAND in made["text"] and UPDATES in made["text"]
        twice = shell.run(
            "statements", "draft", str(leak_id), "--channel", channel, "--as", "bob", ok=False
        )
        assert twice.returncode == 1
        first_ok = shell.json("statements", "approve", str(made["id"]), "--as", "ann")
        assert first_ok["status"] == "draft" and first_ok["first_approved_by"] == "ann"
        refused = shell.run("statements", "approve", str(made["id"]), "--as", "cat", ok=False)
        assert refused.returncode == 1 and "needs a crisis approver" in refused.stderr
        same = shell.run("statements", "approve", str(made["id"]), "--as", "ann", ok=False)
        assert same.returncode == 1 and "second, different person" in same.stderr
    assert own_posts(x_api) == [] and mail_to(smtp_server, set(PRESS)) == []
    for statement_id in statements.values():
        approved = shell.json("statements", "approve", str(statement_id), "--as", "bob")
        assert approved["status"] == "approved"

    posted = shell.dispatch()
    assert sorted(posted["statements_posted"]) == sorted(str(i) for i in statements.values())
    assert posted["sent"] == {}
    for _ in range(2):  # posting again, or another pass, sends nothing more
        shell.run("statements", "post", str(statements["x"]))
        shell.run("statements", "post", str(statements["email"]))
        shell.dispatch()
    [statement_post] = own_posts(x_api)
    assert BRAND in statement_post.text and UPDATES in statement_post.text
    [press_mail] = mail_to(smtp_server, set(PRESS))
    assert sorted(press_mail[1]) == sorted(PRESS)
    listed = shell.json("statements", "--incident", str(leak_id))
    assert {s["channel"]: s["status"] for s in listed} == {"x": "posted", "email": "posted"}

    # A person releases the held replies: back in the queue, approval cleared, nothing sent.
    held_ids = [h["id"] for h in storm.leak["held_drafts"]]
    released = shell.json("incidents", "release", str(leak_id), "--as", "ann")
    assert sorted(released["draft_ids"]) == sorted(held_ids)
    by_id = {d["id"]: d for d in shell.drafts()}
    assert {by_id[i]["status"] for i in held_ids} == {"pending"}
    assert {by_id[i]["approved_by"] for i in held_ids} == {None}
    shell.dispatch()
    storm.nothing_reached(storm.leak, x_api, smtp_server)
    # Only what a person approves after the release goes: one reply, to that author.
    chosen = next(by_id[i] for i in held_ids if by_id[i]["channel"] == "x")
    shell.run("queue", "approve", str(chosen["id"]), "--as", "cat")
    assert list(shell.dispatch()["sent"]) == [str(chosen["id"])]
    x_users, emails = storm.authors(storm.leak)
    [reply] = replies_to(x_api, x_users)
    assert reply.in_reply_to_tweet_id == chosen["recipient"]
    assert mail_to(smtp_server, emails) == []

    # The airline's outage: its held replies are cancelled in bulk, with the reason.
    airline_held = [h["id"] for h in storm.airline["held_drafts"]]
    assert airline_held
    cancelled = shell.json(
        "incidents", "cancel-held", str(storm.airline["id"]), "--reason", "statement", "--as", "bob"
    )
    assert sorted(cancelled["draft_ids"]) == sorted(airline_held)
    by_id = {d["id"]: d for d in shell.drafts()}
    assert {by_id[i]["status"] for i in airline_held} == {"cancelled"}
    shell.dispatch()
    assert replies_to(x_api, storm.authors(storm.airline)[0]) == []
    assert len(own_posts(x_api)) == 1 and len(mail_to(smtp_server, set(PRESS))) == 1


# -- the incident page in a real browser, against `listener serve` (SQLite) ----------------------


class Desk:
    """`listener serve` as a real process, until `stop`."""

    def __init__(self, shell: Shell, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "listener", "serve"],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=shell.config.parent,
                env={**_env(), "LISTENER_CONFIG": str(shell.config)},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"review desk on \S*(http://127\.0\.0\.1:\d+)", self.output)
            if found:
                self.url = found.group(1)
                return
            assert self.process.poll() is None, self.output
            time.sleep(0.1)
        raise AssertionError("listener serve did not start:\n" + self.output)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def signed_in(browser: Any, url: str, name: str) -> Any:
    context = browser.new_context(base_url=url, viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.problems = []
    tab.on("console", lambda m: tab.problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.problems.append(str(e)))
    tab.goto("/queue")
    tab.fill("input[name=username]", name)
    tab.fill("input[name=password]", PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/queue"))
    return tab


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_the_incident_page_in_a_browser_speaks_once_and_releases_or_cancels_in_bulk(
    tmp_path: Path,
    sqlite_url: str,
    x_api: XApiServer,
    smtp_server: SmtpServer,
    hooks: LocalServer,
) -> None:
    from playwright.sync_api import expect

    storm = replay_the_story(tmp_path, sqlite_url, x_api, smtp_server, hooks)
    shell, leak_id, airline_id = storm.shell, storm.leak["id"], storm.airline["id"]
    check_held_and_alerted(storm, hooks)
    dispatch_sends_nothing_to_the_storm(storm, x_api, smtp_server)
    cat_token = shell.run("users", "token", "cat").stdout.strip()
    bob_token = shell.run("users", "token", "bob").stdout.strip()

    desk = Desk(shell, tmp_path / "serve.log")
    try:
        with launched_chromium() as browser:
            ann, bob, cat = (signed_in(browser, desk.url, n) for n in ("ann", "bob", "cat"))
            on_x = "article.statement[data-channel=x]"
            by_mail = "article.statement[data-channel=email]"

            # ann (crisis) drafts both statements and approves them: one approval is not enough.
            ann.goto(f"/incidents/{leak_id}")
            held = storm.leak["held_drafts"]
            expect(ann.locator("#held-replies h2")).to_have_text(f"Held replies ({len(held)})")
            expect(ann.locator("#held-replies tr.held-draft")).to_have_count(len(held))
            expect(ann.locator(".outreach-hold")).to_contain_text(
                f"Routine outreach for {BRAND} is on hold"
            )
            for card in (on_x, by_mail):
                ann.locator(card).get_by_role("button", name="Draft a statement").click()
                ann.locator(card).get_by_role("button", name="Approve").click()
                expect(ann.locator(card)).to_contain_text(
                    "approved by ann; needs a second crisis approver"
                )
                assert ann.locator(card).get_by_role("button", name="Post now").count() == 0
            expect(ann.locator(by_mail)).to_contain_text(", ".join(PRESS))
            statements = {
                s["channel"]: s["id"] for s in shell.json("statements", "--incident", str(leak_id))
            }

            # cat (approver) sees the page but may neither approve nor release; nor may the API.
            cat.goto(f"/incidents/{leak_id}")
            expect(cat.locator(on_x)).to_contain_text("needs a second crisis approver")
            assert cat.locator("#statements").get_by_role("button", name="Approve").count() == 0
            assert cat.get_by_role("button", name="Release all to the queue").count() == 0
            with httpx.Client(base_url=desk.url) as api:
                as_cat = {"Authorization": f"Bearer {cat_token}"}
                for path in (
                    f"/api/statements/{statements['x']}/approve",
                    f"/api/incidents/{leak_id}/release",
                    f"/api/incidents/{leak_id}/cancel-held",
                ):
                    assert api.post(path, headers=as_cat).status_code == 403, path

            # bob (crisis) gives the second approval; the X statement is posted at once, the
            # email one by the dispatcher.
            bob.goto(f"/incidents/{leak_id}")
            for card in (on_x, by_mail):
                bob.locator(card).get_by_role("button", name="Approve").click()
                expect(bob.locator(card)).to_contain_text("approved by ann and bob")
            assert own_posts(x_api) == [] and mail_to(smtp_server, set(PRESS)) == []
            bob.locator(on_x).get_by_role("button", name="Post now").click()
            expect(bob.locator(on_x)).to_contain_text("https://x.com/VoxaMobile/status/")
            report = shell.dispatch()
            assert list(report["statements_posted"]) == [str(statements["email"])]
            assert report["sent"] == {}
            with httpx.Client(base_url=desk.url) as api:  # posting again sends nothing more
                as_bob = {"Authorization": f"Bearer {bob_token}"}
                for statement_id in statements.values():
                    again = api.post(f"/api/statements/{statement_id}/post", headers=as_bob)
                    assert again.status_code == 200 and again.json()["status"] == "posted"
            shell.dispatch()
            bob.reload()
            expect(bob.locator(by_mail).locator(".statement-status")).to_have_text("posted")
            assert bob.locator("#statements").get_by_role("button", name="Post now").count() == 0
            [post] = own_posts(x_api)
            assert BRAND in post.text and UPDATES in post.text
            [press] = mail_to(smtp_server, set(PRESS))
            assert sorted(press[1]) == sorted(PRESS)
            storm.nothing_reached(storm.leak, x_api, smtp_server)

            # The airline's page, for docs/screenshots: its held replies and a statement
            # waiting for its second crisis approver.
            ann.goto(f"/incidents/{airline_id}")
            ann.locator(on_x).get_by_role("button", name="Draft a statement").click()
            ann.locator(on_x).get_by_role("button", name="Approve").click()
            expect(ann.locator(on_x)).to_contain_text("needs a second crisis approver")
            width = ann.evaluate("document.documentElement.scrollWidth")
            assert width <= 1200, f"the page is {width}px wide: something does not wrap"
            ann.screenshot(path=str(SHOTS / "incident.png"), full_page=True)

            # bob releases the leak's held replies in bulk: back in the queue, approval cleared.
            bob.goto(f"/incidents/{leak_id}")
            bob.get_by_role("button", name="Release all to the queue").click()
            bob.wait_for_url(re.compile(rf"/incidents/{leak_id}$"))
            expect(bob.locator("#held-replies h2")).to_have_text("Held replies (0)")
            by_id = {d["id"]: d for d in shell.drafts()}
            assert {by_id[h["id"]]["status"] for h in held} == {"pending"}
            assert {by_id[h["id"]]["approved_by"] for h in held} == {None}
            bob.goto(f"/queue?incident={leak_id}")
            expect(bob.locator("article.card.status-pending").first).to_be_visible()
            assert bob.locator(".outreach-hold", has_text=BRAND).count() == 0
            expect(bob.locator(".outreach-hold", has_text=AIRLINE)).to_be_visible()

            # ... and cancels the airline's in bulk, with a reason.
            airline_held = storm.airline["held_drafts"]
            bob.goto(f"/incidents/{airline_id}")
            expect(bob.locator("#held-replies tr.held-draft")).to_have_count(len(airline_held))
            bob.fill("#cancel-reason", "the holding statement answers them")
            bob.get_by_role("button", name="Cancel all").click()
            bob.wait_for_url(re.compile(rf"/incidents/{airline_id}$"))
            expect(bob.locator("#held-replies h2")).to_have_text("Held replies (0)")
            by_id = {d["id"]: d for d in shell.drafts()}
            assert {by_id[h["id"]]["status"] for h in airline_held} == {"cancelled"}

            for tab in (ann, bob, cat):
                assert tab.problems == [], tab.problems
                tab.context.close()
    finally:
        desk.stop()

    # Released is not approved: the dispatcher still sends nothing to either storm's authors,
    # and nothing more is said than the two statements.
    shell.dispatch()
    storm.nothing_reached(storm.leak, x_api, smtp_server)
    assert replies_to(x_api, storm.authors(storm.airline)[0]) == []
    assert len(own_posts(x_api)) == 1 and len(mail_to(smtp_server, set(PRESS))) == 1
    statuses = {(s["incident_id"], s["channel"]): s["status"] for s in shell.json("statements")}
    assert statuses == {
        (leak_id, "x"): "posted",
        (leak_id, "email"): "posted",
        (airline_id, "x"): "draft",  # one crisis approval: it never went out
    }


# -- every author of the story is the incident's ------------------------------------------------


def test_every_mention_of_the_story_is_in_its_incident(
    tmp_path: Path, sqlite_url: str, x_api: XApiServer, smtp_server: SmtpServer, hooks: LocalServer
) -> None:
    """Crisis mode holds replies to the incident's authors, so each of the story's posts must
    be in it: the first ones too (here @angry3, 420k followers, whose words share little with
    the post that opened the incident), or a reply to them would go out during the hold."""
    scenario = write_scenario(tmp_path, x_api)
    shell = Shell(write_settings(tmp_path, sqlite_url, x_api, smtp_server, hooks))
    shell.run("import", str(scenario.early), "--replay")
    shell.run("import", str(scenario.storm), "--replay")
    [leak] = [i for i in shell.json("incidents") if i["brand"] == BRAND]
    members = set(shell.incident(leak["id"])["mention_ids"])
    stored = shell.json("mentions", "--brand", BRAND, "--limit", "100000")
    story = {
        m["id"]: m["author"] for m in stored if (m["source"], m["external_id"]) in scenario.story
    }
    assert len(story) == STORM_SIZE
    assert sorted(a for i, a in story.items() if i not in members) == []
