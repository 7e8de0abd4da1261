"""Take docs/screenshots/queue.png and overview.png with Debian's chromium from a demo store.

    python docs/screenshots/take_screenshots.py

The demo store is built in a temporary directory from the bundled settings' brands: a week of
made-up mentions ingested through the real pipeline (matching, scoring, drafting) with a
replay clock, so the pictures show what the page shows for real data.
"""

from __future__ import annotations

import random
import sys
import tempfile
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from listener.app import make_listener  # noqa: E402
from listener.clock import ReplayClock  # noqa: E402
from listener.domain import Engagement, Mention  # noqa: E402
from listener.settings import validate_settings  # noqa: E402
from listener.store import users  # noqa: E402
from listener.web.auth import hash_password  # noqa: E402
from listener.web.server import WebServer  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

UNHAPPY = {
    "Nimbus Mobile": [
        "@NimbusMobile no signal in Leeds since this morning, I work from home, this is useless",
        "Nimbus Mobile charged me twice for November and the chat bot keeps closing on me",
        "Is Nimbus down again? No data at all on my phone #NimbusMobile",
        "Three weeks waiting for a Nimbus Mobile SIM swap. Three. Weeks.",
        "@NimbusMobile your app logs me out every time I open it, please fix",
    ],
    "Skyline Air": [
        "@SkylineAir flight SK212 delayed 4 hours and not a single update at the gate",
        "Skyline Air lost my suitcase in Lisbon and the phone line just rings out",
        "Booked with Skyline Air, paid for a seat, got moved to the back without a word",
        "@SkylineAir refund still not here 6 weeks after you cancelled my flight",
    ],
}
HAPPY = {
    "Nimbus Mobile": [
        "Switched to Nimbus Mobile last month, signal is great in my flat",
        "Nimbus Mobile support sorted my roaming in five minutes, thanks!",
        "Anyone know if Nimbus Mobile covers eSIM on the new phones?",
    ],
    "Skyline Air": [
        "Lovely crew on my Skyline Air flight to Porto today",
        "Skyline Air announces new routes to Split and Bari next summer",
        "Does Skyline Air let you take a guitar as cabin luggage?",
    ],
}


def demo_mentions() -> list[Mention]:
    rng = random.Random(3)
    found = []
    n = 0
    start = NOW - timedelta(days=7)
    for hour in range(7 * 24):
        at = start + timedelta(hours=hour)
        daytime = 7 <= at.hour <= 22
        for brand in UNHAPPY:
            volume = rng.randint(1, 4) if daytime else rng.randint(0, 1)
            if brand == "Nimbus Mobile" and NOW - at < timedelta(hours=30):
                volume += 3  # an outage building up on the last day
            for _ in range(volume):
                n += 1
                unhappy = rng.random() < (0.6 if brand == "Nimbus Mobile" else 0.35)
                text = rng.choice((UNHAPPY if unhappy else HAPPY)[brand])
                found.append(
                    Mention(
                        source="x-search",
                        source_kind="x",
                        external_id=str(1_800_000_000 + n),
                        text=text,
                        url=f"https://x.com/i/status/{1_800_000_000 + n}",
                        author=f"@{rng.choice(['sam', 'priya', 'jo', 'li', 'ana', 'tom'])}_{n}",
                        author_name=rng.choice(["Sam K", "Priya", "Jo B", "Li Wei", "Ana", "Tom"]),
                        author_followers=int(rng.paretovariate(1.1) * 80),
                        published_at=at + timedelta(minutes=rng.randint(0, 59)),
                        engagement=Engagement(likes=rng.randint(0, 40), reposts=rng.randint(0, 9)),
                    )
                )
    return found


def main() -> None:
    bundled = tomllib.loads((REPO / "settings.toml").read_text(encoding="utf-8"))
    tmp = Path(tempfile.mkdtemp(prefix="listener-demo-"))
    settings = validate_settings(
        {
            "database": {"url": f"sqlite:///{tmp / 'demo.db'}"},
            "brands": bundled["brands"],
            "sources": [],
            "outreach": {"templates_dir": str(REPO / "templates"), "max_per_author": 5},
            "base_dir": tmp,
        }
    )
    listener = make_listener(settings, sources=[], clock=ReplayClock(NOW - timedelta(days=8)))
    mentions = sorted(demo_mentions(), key=lambda m: m.published_at or NOW)
    clock = listener.clock
    assert isinstance(clock, ReplayClock)
    # Replayed hour by hour, so incidents open when their spike happens, as they would live.
    for i in range(0, len(mentions), 10):
        batch = mentions[i : i + 10]
        clock.advance_to(max(m.published_at or NOW for m in batch))
        listener.pipeline.ingest(batch)
    clock.advance_to(NOW)
    with listener.store.write() as conn:
        users.add_user(
            conn,
            name="maria",
            role="approver",
            password_hash=hash_password("demo password"),
            actor="demo",
            at=NOW,
        )
    from playwright.sync_api import sync_playwright

    with (
        WebServer(listener, port=0, environ={}) as server,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1100}, base_url=server.url)
        page.goto("/login")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", "demo password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/queue")
        page.screenshot(path=str(OUT / "queue.png"))
        page.goto("/overview?period=7d")
        page.screenshot(path=str(OUT / "overview.png"), full_page=True)
        browser.close()
    listener.close()
    print(f"{len(mentions)} demo mentions; wrote {OUT / 'queue.png'} and {OUT / 'overview.png'}")


if __name__ == "__main__":
    main()
