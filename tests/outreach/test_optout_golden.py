"""The opt-out recogniser's fast paths change no decision: every text of a varied corpus gets
the phrase recorded in the golden file by the implementation before the fast paths (one
`re.search` per phrase on every text, ~60 µs a mention).

The corpus mixes ordinary mentions, every kind of request with and without the words that
make it a statement ("they", "never", "can't", "to"), handles, links, punctuation, and the
spellings a quick check could miss: full-width letters, combining accents, curly apostrophes,
ligatures, the long s, a Kelvin sign, a dotted capital I. Regenerate the golden file only when
decisions are meant to change (a new phrase, a new exception):

    python -m tests.outreach.test_optout_golden --write-golden
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter

from listener.outreach.optouts import opt_out_phrase
from tests.support.paths import FIXTURES

GOLDEN = FIXTURES / "optout_golden.jsonl"

ORDINARY = [
    "Hey @O2 still on hold after 3 hours, this is ridiculous",
    "thanks for sorting my refund so quickly, great service @SkylineAir",
    "Ugh O2 I keep getting spam texts from you and they won't stop please help",
    "is the app down? it won't load since 7 this morning #O2",
    "how do I change the address on my account? @O2",
    "Skyline Air my flight was delayed 4 hours and nobody at the gate knew anything",
    "charged me twice for order #52, still no reply from support O2 😡",
    "no signal in the whole of north London for 12 hours now @O2",
    "lost my bag on flight 88, three calls and still no news https://t.co/x88",
    "why is my bill £40 higher than last month? nobody explains O2",
    "London is not great for O2 coverage",
    "nothing works",
    "I don't know what O2 is doing",
    "take it back",
    "opt for the cheaper plan",
    "optional extras, Skyline Air?",
    "never again",
    "alone at the gate",
    "please remove the fee",
    "delete the app",
    "the system is down",
    "the list is long",
]
REQUESTS = [
    "stop",
    "STOP",
    "Stop",
    "stop please",
    "please stop",
    "stop it",
    "stop stop",
    "stop now",
    "stopall",
    "STOPALL",
    "stop all",
    "unsubscribe",
    "unsubscribe me",
    "please unsubscribe me",
    "opt out",
    "optout",
    "opt-out",
    "opt me out",
    "remove me",
    "Unsubscribed",
    "unsubscribes",
    "stop messaging me",
    "stop texting us",
    "stop e-mailing me",
    "stop emailing my",
    "stop dm'ing me",
    "stop dming me",
    "stop calling me",
    "stop phoning me",
    "stop following me",
    "stop harassing us",
    "stop harrassing me",
    "stop bothering me",
    "stop pestering my wife",
    "stop constantly calling me",
    "stop spamming me",
    "stop sending me emails",
    "stop sending us spam",
    "stop sending me promotional offers",
    "stop sending me your marketing",
    "stop sending me texts",
    "stop sending me e-mails",
    "don't contact me",
    "dont message me",
    "do not contact me",
    "do not ever email me",
    "don't ever call me",
    "don't text me back",
    "don't reply to me",
    "don't write to me",
    "don't tweet at me",
    "do not e-mail me",
    "don\u2019t contact me",
    "don\u2018t dm me",
    "never contact me again",
    "never ever message me again",
    "never call me again",
    "leave me alone",
    "leave me alone please",
    "remove me from your list",
    "remove me from your mailing list",
    "take me off your list",
    "take me off the lists",
    "delete my number from your database",
    "delete my email from all your contacts",
    "remove my details from all of your systems",
    "remove my data from this system",
    "remove my address off ur records",
    "opt me out of your marketing",
    "opt out of these texts",
    "opt out of all emails",
    "opt out of contact",
    "opt out of the list",
    "opt out of data sharing",
    "I want to opt out",
    "i wish to optout",
    "please opt out",
    "let me opt out",
    "let me opt out now",
]
PREFIXES = [
    "",
    "@O2 ",
    "O2 ",
    "Hey @SkylineAir, ",
    "they ",
    "he ",
    "she ",
    "it ",
    "who ",
    "still ",
    "never ",
    "can't ",
    "cant ",
    "cannot ",
    "won't ",
    "wont ",
    "don't ",
    "dont ",
    "doesn't ",
    "didn't ",
    "not ",
    "to ",
    "I ",
    "PLEASE ",
    "why won't you ",
    "you ",
    "Honestly, ",
    "https://t.co/abc ",
    "#O2 ",
    "just ",
    "I said ",
    "\u201c",
]
SUFFIXES = [
    "",
    "!",
    "!!!",
    ".",
    " please",
    " @O2",
    " https://t.co/x1",
    " back",
    " again",
    " 😡",
    " thanks",
    " ASAP",
    " NOW",
    " STOP",
    " about upgrades",
    " - O2",
    "\u201d",
    " #fail",
    " ever again",
    " lol",
]
SHOUTS_AND_NEAR_MISSES = [
    *("STOP", "STOP STOP", "STOP NOW", "NOW STOP", "O2 STOP", "STOP O2", "STOP o2", "o2 STOP"),
    *("STOP\u0301", "STOP, I never signed up", "I said STOP.", "BUS STOP", "STOP SPAM"),
    *("@O2 STOP https://t.co/x", "STOP @O2", "STOP's", "STOP_", "'STOP'", "A STOP", "a STOP"),
    *("STOP a", "\uff33\uff34\uff2f\uff30", "S T O P", "STOP\n", "\nSTOP", "STOPS", "NONSTOP"),
    "I can't stop laughing at the O2 advert",
    "waiting at the bus stop and O2 has no signal",
    "Stop the price rises, O2!",
    "they never stop calling me about upgrades",
    "my O2 engineer didn't stop working until it was fixed",
    "they don't contact me back, three days now",
    "It is time to stop",
    "Non-stop problems with O2 today",
    "Please don't stop the 5G rollout",
    "O2 told me to leave me alone? weird bot",
    *("", "   ", "stopped working again", "next stop: complaining to ofcom"),
    *("I took my phone off the list", "UNSUBSCRIBE", "Unsubscribe!", "unsubscribe@o2.example"),
    *("@unsubscribe", "https://o2.example/unsubscribe", "HTTPS://o2.example/unsubscribe"),
    *("@stop", "#stop", "#unsubscribe", "stop#", "st op", "s-t-o-p", "STOP!!!!!", "¡STOP!"),
    *("«STOP»", "stop.", "STOP…", "…STOP"),
]


def _spellings(text: str) -> list[str]:
    """The same text as other scripts, cases and separators would write it."""
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    return [
        text.upper(),
        text.title(),
        text.swapcase(),
        full_width,
        text.replace("o", "\u00f6"),
        text.replace(" ", "\n"),
        text.replace(" ", "  \t"),
        text.replace("e", "e\u0301"),
        text.replace("'", "\u2019"),
        text.replace(" ", "_"),
        text.replace(" ", "-"),
        text.replace("s", "\u017f"),
        text.replace("st", "\ufb06"),
        text.replace("K", "\u212a").replace("k", "\u212a"),
        text + "\u0301",
        f"\u0130 {text}",
    ]


def corpus() -> list[str]:
    """The texts of the golden file, in order, without duplicates (deterministic)."""
    rng = random.Random(20260)
    texts = list(ORDINARY)
    for request in REQUESTS:
        texts.extend(f"{prefix}{request}" for prefix in rng.sample(PREFIXES, 6))
        texts.extend(f"{request}{suffix}" for suffix in rng.sample(SUFFIXES, 4))
        texts.extend(f"{rng.choice(PREFIXES)}{request}{rng.choice(SUFFIXES)}" for _ in range(3))
    for request in REQUESTS[::4]:
        texts.extend(_spellings(request))
        texts.extend(_spellings(f"@O2 {request} https://t.co/q"))
    texts.extend(SHOUTS_AND_NEAR_MISSES)
    return list(dict.fromkeys(texts))


def _read_golden() -> list[tuple[str, str | None]]:
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [(text, phrase) for text, phrase in map(json.loads, lines)]


def test_the_golden_file_holds_the_whole_corpus() -> None:
    assert [text for text, _ in _read_golden()] == corpus()


def test_the_golden_file_has_every_kind_of_decision() -> None:
    kinds = Counter(phrase for _, phrase in _read_golden())
    expected = {None, "stop", "unsubscribe", "opt out", "remove me", "stop messaging me"}
    expected |= {"don't contact me", "leave me alone", "remove me from your list"}
    assert set(kinds) == expected
    assert kinds[None] > 300 and sum(kinds.values()) - kinds[None] > 300


def test_each_text_gets_its_recorded_decision() -> None:
    wrong = [
        (text, phrase, opt_out_phrase(text))
        for text, phrase in _read_golden()
        if opt_out_phrase(text) != phrase
    ]
    assert not wrong, f"{len(wrong)} decisions changed (text, recorded, now): {wrong[:20]}"


def write_golden() -> None:
    lines = [json.dumps([text, opt_out_phrase(text)], ensure_ascii=False) for text in corpus()]
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} decisions to {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-golden"]:
        raise SystemExit(__doc__)
    write_golden()
