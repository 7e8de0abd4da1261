"""Turn a mention into what every scorer looks at: cleaned text, cue hits, VADER compound.

The text is bounded and cleaned first so that no input (1 MB pastes, control characters, HTML,
emoji) can make scoring slow or fail: scoring reads at most `MAX_CHARS` characters, which is
far beyond a post and enough of an article to judge it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from listener.domain import Mention
from listener.scoring.cues import WORD, CueHit, Family, find_cues
from listener.scoring.language import to_simplified
from listener.text.urls import domain_under, host_of

MAX_CHARS = 4000
MAX_TITLE_CHARS = 300

# Control and invisible formatting characters, and lone surrogates (which cannot be encoded,
# so would break hashing), become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]")
_TAG = re.compile(r"<[^<>]{0,500}>")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FIRST_PERSON = _words(
    "i i'm im i've ive i'd me my mine myself we're us our ours yo mi mis je j'ai mon ma mes moi "
    "ich mein meine mich mir eu meu minha io mio mia"
)
_QUESTION_WORDS = _words(
    "how why when where what which who can could does do did is are will would should "
    "cómo como por qué porque cuándo dónde pourquoi comment quand où wie warum wann wo "
    "perché quando dove"
)
NEWS_DOMAINS = _words(
    """reuters.com apnews.com bbc.co.uk bbc.com nytimes.com washingtonpost.com wsj.com ft.com
    bloomberg.com cnn.com cnbc.com theguardian.com theverge.com techcrunch.com wired.com
    arstechnica.com engadget.com zdnet.com forbes.com businessinsider.com axios.com
    theregister.com bleepingcomputer.com npr.org nbcnews.com abcnews.go.com cbsnews.com
    foxnews.com usatoday.com latimes.com independent.co.uk telegraph.co.uk skynews.com
    news.sky.com economist.com politico.com aljazeera.com lemonde.fr lefigaro.fr spiegel.de
    zeit.de faz.net elpais.com elmundo.es corriere.it repubblica.it globo.com folha.uol.com.br
    theinformation.com venturebeat.com 9to5mac.com macrumors.com marketwatch.com
    news.yahoo.com finance.yahoo.com"""
)


class SentimentAnalyzer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


@cache
def vader() -> SentimentAnalyzer:
    """The one VADER analyzer (loading its lexicon takes ~0.1 s, so it is built once)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer: SentimentAnalyzer = SentimentIntensityAnalyzer()
    return analyzer


@dataclass(frozen=True, slots=True)
class Reading:
    """What the scorers know about one mention's text."""

    text: str
    cues: list[CueHit]
    compound: float
    negative_share: float
    positive_share: float
    question: bool
    first_person: bool
    news_domain: str
    news_like: bool


def clean_text(mention: Mention) -> str:
    """Title and body as plain, bounded, single-spaced text."""
    body = mention.text if isinstance(mention.text, str) else str(mention.text)
    title = mention.title if isinstance(mention.title, str) else str(mention.title)
    # Like `Mention.full_text`, but a runaway title cannot crowd out the body.
    title = title[:MAX_TITLE_CHARS]
    if title and title not in body[: MAX_CHARS * 2]:
        text = f"{title}\n{body[: MAX_CHARS * 2]}"
    else:
        text = body[: MAX_CHARS * 2]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    plain = text.isascii() and text.isprintable()  # no control characters, no curly quotes
    if not plain:
        text = _CONTROL.sub(" ", text)
        text = text.replace("\u2019", "'").replace("\u2018", "'")
    if "http" in text:
        text = _URL.sub(" ", text)
    if plain and "  " not in text:  # its only white space is single spaces already
        return text.strip()[:MAX_CHARS]
    return _SPACE.sub(" ", text).strip()[:MAX_CHARS]


def news_domain_of(url: str) -> str:
    """The known news site `url` belongs to, or ''."""
    return domain_under(host_of(url), NEWS_DOMAINS)


def read(mention: Mention, analyzer: SentimentAnalyzer | None = None) -> Reading:
    # Traditional Chinese is read as simplified: the model and the cues know simplified.
    text = to_simplified(clean_text(mention))
    lowered = text.lower()
    tokens = WORD.findall(lowered)
    polarity = (analyzer or vader()).polarity_scores(text) if text else {}
    question = "?" in text and not _QUESTION_WORDS.isdisjoint(tokens[:12])
    first_person = not _FIRST_PERSON.isdisjoint(tokens)
    cues = find_cues(lowered, tokens)
    domain = news_domain_of(mention.url)
    return Reading(
        text=text,
        cues=cues,
        compound=float(polarity.get("compound", 0.0)),
        negative_share=float(polarity.get("neg", 0.0)),
        positive_share=float(polarity.get("pos", 0.0)),
        question=question,
        first_person=first_person,
        news_domain=domain,
        news_like=_is_news_like(mention, cues, first_person, domain),
    )


def _is_news_like(mention: Mention, cues: list[CueHit], first_person: bool, domain: str) -> bool:
    """A report about the brand rather than a customer speaking: a news site, or a headline
    with reporting words, and no first person either way."""
    if first_person:
        return False
    if domain:
        return True
    news_words = sum(h.cue.weight for h in cues if h.cue.family is Family.NEWS)
    return bool(mention.title) and mention.source_kind != "x" and news_words >= 1.0
