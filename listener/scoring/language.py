"""Which language a mention is written in: the source's word when it gives one, else a guess.

Scripts settle most languages outright, by the script most of the letters are in (Han
characters are Chinese, kana Japanese, Arabic script Arabic, Devanagari Hindi). Romanised
Hindi, common on social media, looks like nothing py3langid knows, so a short list of Hindi
function words ("hai", "nahi", "kya") decides it; two common English words settle English
(most mentions, cheaply). The rest goes to py3langid (a naive Bayes model over byte n-grams
that ships inside its package, so detection works offline), limited to the Latin-script
languages listener scores; a close call between English and another language is English,
since misreading English sends it past the English models.

Codes are ISO 639-1 ("en", "zh", ...); "" means the text gives too little to tell.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Protocol

from listener.domain import Mention

# The languages the dissatisfaction model is trained for, in the order the docs list them.
SCORED_LANGUAGES = ("en", "zh", "es", "fr", "de", "pt", "it", "ar", "hi")
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "it": "Italian",
    "ar": "Arabic",
    "hi": "Hindi",
    "ja": "Japanese",
    "ko": "Korean",
}
_LATIN_LANGUAGES = ("en", "es", "fr", "de", "pt", "it")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
# Han characters (CJK unified ideographs, extension A, compatibility ideographs), as a regex
# character range for the modules that find Chinese in text.
HAN_RANGE = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
DEVANAGARI_RANGE = "\u0900-\u097f"
_HAN = re.compile(f"[{HAN_RANGE}]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_DEVANAGARI = re.compile(f"[{DEVANAGARI_RANGE}]")
_LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
# (script, language, how many Latin letters one of its characters counts as), kana before Han
# since Japanese mixes both.
_SCRIPTS = (
    (_KANA, "ja", 3),
    (_HANGUL, "ko", 3),
    (_HAN, "zh", 3),
    (_ARABIC, "ar", 1),
    (_DEVANAGARI, "hi", 1),
)
# What says nothing about the language: handles, links, hashtag signs, numbers.
_NOISE = re.compile(r"@\w+|https?://\S+|\bhttp\b|#|\d+")
_WORD = re.compile(r"[a-z']+")
# Romanised Hindi function words that are not also common English words.
_HINDI_WORDS = _words(
    """
    hai hain nahi nahin nhi kya kyu kyun kyon bhi mein tha thi aur yaar yar bhai accha acha
    bahut bohot bahot kuch abhi kaise kaisa kitna apna apne tum aap mera meri mere tera teri
    wala wale wali sirf matlab hota hoti hoga raha rahe rahi gaya gayi karo karna kiya diya
    liya hua hui sab kuchh koi ko ka ki ke se
    """
)
# Words that mark English and almost never occur in the other Latin-script languages scored:
# two of them settle a text as English without asking the model (most mentions, cheaply).
_ENGLISH_WORDS = _words(
    """
    the and is you my this with was are have what just your it's i'm that for of not be they
    we can get been has don't can't from about when would should there their to it at if all
    out up how why like she his her or by but our us did got now who more today tomorrow going
    see night dont its it's i've you're he's lmao bad good great thanks love please really
    never because people
    """
)
# How much likelier (in py3langid's log-probability) another Latin-script language must be
# than English for a text to count as written in it.
_SURE_NOT_ENGLISH = 5.0
# Short words shared with English ("to", "he"... are not listed; these few are): they count
# only beside a distinctive one.
_HINDI_WEAK = frozenset({"ko", "ka", "ki", "ke", "se", "sab", "koi"})


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...

    def rank(self, text: str) -> list[tuple[str, float]]: ...


_LOCK = threading.Lock()


@cache
def _identifier() -> _Identifier:
    """py3langid's model, loaded once (about a second), limited to the Latin-script languages."""
    with _LOCK:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        identifier.set_languages(list(_LATIN_LANGUAGES))
        return identifier  # type: ignore[no-any-return]


@cache
def _simplifier() -> Callable[[str], str]:
    """OpenCC's traditional-to-simplified conversion (phrase-aware, from its shipped tables)."""
    with _LOCK:
        import opencc

        return opencc.OpenCC("t2s").convert


def has_han(text: str) -> bool:
    """Whether `text` has Chinese characters (traditional or simplified)."""
    return not text.isascii() and _HAN.search(text) is not None


def to_simplified(text: str) -> str:
    """`text` with traditional Chinese characters written as simplified ones, so one model and
    one cue list serve both (the training data is simplified); other text is returned as is."""
    return _simplifier()(text) if has_han(text) else text


def normalise_language(code: str) -> str:
    """A source's language tag as a bare lower-case code: "zh-Hant" and "zh-TW" are "zh";
    X's "und" (undetermined) and "qme"-style private codes are ""."""
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    if not base.isalpha() or len(base) not in (2, 3) or base in {"und", "zxx", "mul"}:
        return ""
    if base.startswith("q"):  # X's qam, qct, qht, qme, qst: not a language
        return ""
    return base


def detect_language(text: str) -> str:
    """The language `text` is most likely written in, or "" when it has no words to go on."""
    plain = _NOISE.sub(" ", text)
    if not plain.isascii():
        # The script most of the text is in decides (an English post may quote a Chinese
        # name); a Han character says about as much as three or four Latin letters.
        latin = len(_LATIN_LETTER.findall(plain))
        for script, lang, weight in _SCRIPTS:
            found = len(script.findall(plain))
            if found and found * weight >= latin:
                return lang
    if not _LATIN_LETTER.search(plain):
        return ""
    words = set(_WORD.findall(plain.lower()))
    if _looks_like_romanised_hindi(words):
        return "hi"
    if len(_ENGLISH_WORDS.intersection(words)) >= 2:
        return "en"
    identifier = _identifier()
    best, best_score = identifier.classify(plain)
    if best != "en":  # rare for English text, so ranking every language is worth it only here
        english = next(score for lang, score in identifier.rank(plain) if lang == "en")
        if best_score - english < _SURE_NOT_ENGLISH:
            return "en"  # a close call: most mentions are English, and misread English costs more
    return str(best)


def language_of(text: str, given: str = "") -> str:
    """The source's language when it gave one (normalised), else `detect_language(text)`."""
    known = normalise_language(given) if given else ""
    return known or detect_language(text)


def language_filter(value: str) -> str:
    """A language filter as people type it ("ZH", "zh-TW", "-" for unknown) in the form the
    store compares: a bare code, "-", or "" for no filter."""
    value = value.strip()
    return "-" if value == "-" else normalise_language(value) if value else ""


def language_choices() -> list[tuple[str, str]]:
    """(code, name) of the languages listener scores, for a filter's choices."""
    return [(code, LANGUAGE_NAMES[code]) for code in SCORED_LANGUAGES]


def with_language(mention: Mention) -> Mention:
    """`mention` with `lang` set: the source's tag normalised ("zh-Hant" is "zh"), else the
    language detected in its title and text ("" when there is nothing to go on)."""
    lang = language_of(mention.full_text, mention.lang)
    return mention if lang == mention.lang else replace(mention, lang=lang)


def _looks_like_romanised_hindi(words: set[str]) -> bool:
    found = _HINDI_WORDS.intersection(words)
    distinctive = found - _HINDI_WEAK
    return len(distinctive) >= 2 or (len(distinctive) == 1 and len(found) >= 3)
