"""Brand matching: word boundaries, handles, hashtags, exclusions, unspaced scripts."""

import pytest

from listener.text.matching import BrandMatcher, BrandTerms

O2 = BrandTerms("O2", ["O2", "@O2", "#O2", "O2 UK"], ["O2 sensor", "O2 arena"])
XIAOMI = BrandTerms("Xiaomi", ["小米", "Xiaomi"])
matcher = BrandMatcher([O2, XIAOMI])


def brands(text: str) -> list[str]:
    return [m.brand for m in matcher.match(text)]


@pytest.mark.parametrize(
    "text",
    [
        "my O2 signal is gone",
        "o2 is down again",
        "@O2 help please",
        "#O2 outage",
        "O2's network",
        "(O2)",
        "O2, again!",
        "switching from O2.",
        "O2 UK support",
    ],
)
def test_a_term_matches_on_word_boundaries_in_any_case(text: str) -> None:
    assert brands(text) == ["O2"]


@pytest.mark.parametrize(
    "text", ["CO2 levels are rising", "O2x is a product", "mail me at x@O2.com", "NO2 gas", ""]
)
def test_a_term_inside_another_word_does_not_match(text: str) -> None:
    assert brands(text) == []


def test_the_most_specific_term_is_reported() -> None:
    assert matcher.match("O2 UK is bad")[0].term == "O2 UK"


def test_exclusions_remove_only_the_excluded_phrase() -> None:
    assert brands("the O2 arena gig was great") == []
    assert brands("my car's o2 sensor failed") == []
    assert brands("after the O2 arena gig my O2 signal died") == ["O2"]


def test_a_brand_name_inside_a_chinese_sentence_matches() -> None:
    assert brands("我的小米手机坏了") == ["Xiaomi"]


def test_multi_word_terms_allow_any_whitespace_between_words() -> None:
    assert brands("O2\n  UK") == ["O2"]


def test_several_brands_are_reported_in_configuration_order() -> None:
    assert brands("Xiaomi phone on O2") == ["O2", "Xiaomi"]


def test_letters_that_fold_to_ascii_match_as_case_insensitive_regexes_do() -> None:
    skyline = BrandMatcher([BrandTerms("Skyline Air", ["Skyline Air"])])
    # The long s and the dotless i are other cases of "s" and "i" to the regex engine.
    assert [m.term for m in skyline.match("\u017fkyline A\u0131r lost my bag 🧳")] == [
        "\u017fkyline A\u0131r"
    ]
    assert [m.term for m in skyline.match("SKYLINE AIR lost my bag 🧳")] == ["SKYLINE AIR"]


def test_the_fast_path_knows_every_character_that_folds_to_ascii() -> None:
    """The fast path's premise, checked over all of Unicode: lower-casing a character keeps
    its length and whether it is a word character or a space, and only `_FOLDS_TO_ASCII`
    matches an ASCII character case-insensitively."""
    import re
    import sys

    from listener.text.matching import _FOLDS_TO_ASCII

    ascii_char, word, space = (
        re.compile(r"[\x00-\x7f]", re.IGNORECASE),
        re.compile(r"\w"),
        re.compile(r"\s"),
    )
    folding = set()
    for code in range(128, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if ascii_char.match(char):
            folding.add(char)
            continue
        lower = char.lower()
        assert len(lower) == 1, f"U+{code:04X} lower-cases to {len(lower)} characters"
        assert bool(word.match(char)) == bool(word.match(lower)), f"U+{code:04X}"
        assert bool(space.match(char)) == bool(space.match(lower)), f"U+{code:04X}"
    assert folding == set(_FOLDS_TO_ASCII.pattern.strip("[]"))
