"""Properties that hold for any input (hypothesis): matching and scoring never raise and stay
in range, a term standing on its own is always found, and the pipeline stores any batch of
odd mentions at most once per (source, id).
"""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener.app import Listener, make_listener
from listener.domain import Mention
from listener.scoring import make_scorer
from listener.scoring.reading import (
    _CONTROL,
    _SPACE,
    _TAG,
    _URL,
    MAX_CHARS,
    clean_text,
)
from listener.settings import ScoringSettings, validate_settings
from listener.text.matching import BrandMatcher, BrandTerms, _alternation
from tests.support.paths import REPO

BRANDS = [
    BrandTerms("O2", ["O2", "@O2", "#O2", "O2 UK"], ["O2 sensor", "O2 arena"]),
    BrandTerms("Skyline Air", ["Skyline Air", "@SkylineAir"]),
    BrandTerms("Ünïcode Café", ["Ünïcode Café", "咖啡店"]),
]
MATCHER = BrandMatcher(BRANDS)
SCORER = make_scorer(ScoringSettings())
ANY_TEXT = st.text(max_size=300)
PLAIN_WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnpqrstuvwxyz", min_size=1, max_size=8), max_size=12
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_matching_any_text_never_raises_and_names_only_configured_brands(text: str) -> None:
    found = MATCHER.match(text)
    assert {m.brand for m in found} <= {b.name for b in BRANDS}
    assert len({m.brand for m in found}) == len(found)  # each brand at most once
    for match in found:
        assert match.term.lower() in text.lower() or match.term in text


@settings(max_examples=200, deadline=None)
@given(before=PLAIN_WORDS, after=PLAIN_WORDS, brand=st.sampled_from(BRANDS), data=st.data())
def test_a_term_standing_on_its_own_is_always_found(
    before: str, after: str, brand: BrandTerms, data: st.DataObject
) -> None:
    term = data.draw(st.sampled_from(list(brand.terms)))
    if brand.name == "O2" and after.split()[:1] in (["sensor"], ["arena"]):
        return  # an excluded phrase, rightly not a match
    text = f"{before} {term.upper() if term.isascii() else term} {after}"
    assert brand.name in {m.brand for m in MATCHER.match(text)}


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(ANY_TEXT, min_size=1, max_size=10),
    titles=st.lists(ANY_TEXT, min_size=10, max_size=10),
    followers=st.one_of(st.none(), st.integers(min_value=-5, max_value=10**12)),
)
def test_scoring_any_mention_never_raises_and_stays_in_range(
    texts: list[str], titles: list[str], followers: int | None
) -> None:
    mentions = [
        Mention(
            source="prop",
            external_id=str(i),
            text=text,
            title=titles[i],
            author_followers=followers,
        )
        for i, text in enumerate(texts)
    ]
    scores = SCORER.score_batch(mentions)
    assert len(scores) == len(mentions)
    for score in scores:
        assert 0.0 <= score.dissatisfaction <= 1.0
        assert 0.0 <= score.incident_risk <= 1.0


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    base = tmp_path_factory.mktemp("properties")
    built = make_listener(
        validate_settings(
            {
                "database": {"url": f"sqlite:///{base / 'listener.db'}"},
                "brands": [
                    {"name": "O2", "terms": ["O2"]},
                    {"name": "Skyline Air", "terms": ["Skyline Air"]},
                ],
                "outreach": {"templates_dir": str(REPO / "templates")},
                "base_dir": str(base),
            }
        ),
        scorer=SCORER,
    )
    yield built
    built.close()


ODD_MENTION = st.builds(
    Mention,
    source=st.sampled_from(["feed-a", "feed-b"]),
    external_id=st.text(min_size=1, max_size=40),
    text=st.one_of(
        ANY_TEXT, ANY_TEXT.map(lambda t: f"O2 {t}"), ANY_TEXT.map(lambda t: f"{t} Skyline Air")
    ),
    title=ANY_TEXT,
    url=st.one_of(st.just(""), st.text(max_size=60), st.just("javascript:alert(1)")),
    author=st.text(max_size=40),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(ODD_MENTION, max_size=12))
def test_the_pipeline_stores_any_batch_once_and_a_repeat_adds_nothing(
    listener: Listener, batch: list[Mention]
) -> None:
    first = listener.pipeline.ingest(batch)
    again = listener.pipeline.ingest(batch)
    assert again.new == 0
    assert first.new <= len({(m.source, m.external_id) for m in batch})


def test_the_property_run_above_really_stored_odd_mentions(listener: Listener) -> None:
    # Guards the property test against passing vacuously (no batch ever matching a brand).
    assert listener.store.count_mentions() > 0


REFERENCE_PATTERNS = [(b.name, _alternation(b.terms), _alternation(b.exclude)) for b in BRANDS]


def _reference_match(text: str) -> list[tuple[str, str]]:
    """Matching by the case-insensitive patterns alone, which the fast path must agree with."""
    found = []
    for name, terms, exclude in REFERENCE_PATTERNS:
        assert terms is not None
        hit = terms.search(exclude.sub(" ", text) if exclude is not None else text)
        if hit is not None:
            found.append((name, hit.group(0)))
    return found


# Term pieces, boundaries and the characters that fold to ASCII, so that matches, near misses
# and both paths are all common.
NEAR_TERMS = st.lists(
    st.sampled_from(
        [
            "O2",
            "o2",
            "@o2",
            "#O2",
            "O2 UK",
            "CO2",
            "O2x",
            "o2 sensor",
            "O2 ARENA",
            "skyline",
            "Skyline  Air",
            "@SkylineAir",
            "air",
            " ",
            "\n",
            ",",
            "@",
            "#",
            "_",
            "'s",
            "é",
            "🙂",
            "\u017f",
            "\u0131",
            "İ",
            "\u212a",
            "Ünïcode Café",
            "咖啡店",
            "x",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(NEAR_TERMS, ANY_TEXT))
def test_the_fast_path_finds_what_the_case_insensitive_patterns_find(text: str) -> None:
    assert [(m.brand, m.term) for m in MATCHER.match(text)] == _reference_match(text)


def _clean_text_step_by_step(text: str) -> str:
    """`clean_text`'s steps on a body without a title, each always applied."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = _CONTROL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return _SPACE.sub(" ", text).strip()[:MAX_CHARS]


_CLEANING_PIECES = st.sampled_from(
    [
        " ",
        "  ",
        "\t",
        "\n",
        "\x0b",
        "\u00a0",
        "\u2019",
        "\u2018",
        "\x85",
        "\u200b",
        "a",
        "O2",
        "https://t.co/x",
        "http",
        "<b>",
        "&amp;",
        "&#10;",
        "&nbsp;",
        "é",
        "😡",
        ".",
        "'",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_CLEANING_PIECES, max_size=16).map("".join))
def test_clean_text_skips_only_steps_that_would_change_nothing(text: str) -> None:
    assert clean_text(Mention("s", "1", text)) == _clean_text_step_by_step(text)
