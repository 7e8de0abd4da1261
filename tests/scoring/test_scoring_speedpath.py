"""The learned scorer's fast paths change nothing: the same feature matrix as scikit-learn's
`HashingVectorizer`, the same cue hits and news sites as the plain way of finding them, and the
same scores, category and signals as the golden file recorded by the straightforward
implementation before it was optimised.

Regenerate the golden file only when scores are meant to change (new weights, new cues):

    python -m tests.scoring.test_scoring_speedpath --write-golden
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from listener.domain import Engagement, Mention, Score
from listener.scoring import cues as cues_module
from listener.scoring import lexicon as lexicon_module
from listener.scoring.cues import DURATION_CUE, WORD, CueHit, Family, find_cues
from listener.scoring.model import (
    _TOKEN_PATTERN,
    SHIPPED_WEIGHTS,
    SMALL_BATCH,
    ModelScorer,
    TextVectorizer,
    load_weights,
    preprocess,
    rows_times,
)
from listener.scoring.reading import news_domain_of
from tests.support.paths import FIXTURES

GOLDEN = FIXTURES / "scoring_golden.jsonl"

# Hand-written to reach every branch of the scorer: complaints of each family, praise, sarcasm,
# questions, news, other languages, emoji, markup, and texts with nothing in them at all.
TEXTS = [
    "",
    " ",
    "a",
    "?",
    "!!!",
    "ok",
    "@Acme",
    "@Acme ?",
    "I",
    "😡",
    "😍😍😍",
    "👎 👎",
    "❤ thanks",
    "🙏🏽 please help",
    "咖啡店 服务太差了",
    "这家店的咖啡很好喝\uff0c谢谢\uff01",
    "サービスが最悪です",
    "서비스가 너무 느려요",
    "Ünïcode Café est génial, merci !",
    "la app no funciona desde hace 3 días, pésimo servicio",
    "sigo esperando mi reembolso, una vergüenza",
    "toujours pas de remboursement, c'est une honte @AcmeFR",
    "personne ne répond au téléphone, inadmissible",
    "Funktioniert nicht, kein Internet seit gestern. Frechheit!",
    "meine Daten wurden ohne Zustimmung weitergegeben",
    "não funciona, ninguém responde, péssimo atendimento",
    "il servizio fa schifo, nessuno risponde",
    "grazie mille, servizio perfetto",
    "still on hold after 2 hours, this is ridiculous",
    "still on hold after two hours!!! this is RIDICULOUS",
    "waited 45 mins for nothing",
    "thanks for sorting my refund so quickly, great service",
    "Thank you so much @AcmeHelp, well done, kudos to the team",
    "I keep getting spam texts from you and they won't stop",
    "stop texting me. I unsubscribed twice. STOP.",
    "keeps calling me about a contract I never signed, robocalls every day",
    "is the app down? it won't load since 6 this morning",
    "is it just me or is @Acme down again? no internet across the city",
    "servers down, 503 everywhere, can't log in",
    "how do I change the address on my account?",
    "where is my order? it has not arrived",
    "why is my bill so high this month?",
    "can you help me reset my password",
    "you are sending my phone number to every website I visit",
    "they sold my data to third parties without my permission",
    "my details were leaked in the data breach, gdpr complaint incoming",
    "great, another 3 hour delay, thanks",
    "oh great, just what i needed, cancelled again",
    "thanks a lot for nothing @Acme, still no refund",
    "love how nobody answers the phone",
    "love the new update, works perfectly",
    "charged me twice for order #4411, still no reply from support",
    "double charged and hidden fees, total rip off",
    "I want a refund, I want my money back",
    "just landed, flight was on time and the crew were lovely",
    "reports say Acme confirms a data breach affecting 3 million customers",
    "BREAKING: Acme hit by ransomware, regulators open investigation",
    "Acme shares fall after CEO statement on the outage",
    "Acme recalls 40,000 heaters over fire risk, spokesperson says",
    "food poisoning at Acme Burger, salmonella confirmed, 12 injured",
    "class action lawsuit filed against Acme over hidden fees",
    "worst service ever, never again, absolutely ridiculous",
    "useless, pathetic, appalling customer service",
    "the app keeps crashing and the update broke everything",
    "my phone is faulty and defective out of the box",
    "not working. does not work. doesn't work. won't work.",
    "@Acme @AcmeHelp @AcmeSupport hello??",
    "@acme_uk thanks!",
    "AcmeAir lost my luggage and nobody cares",
    "nothing to report, just testing",
    "the weather is nice today",
    "I bought a new phone from Acme",
    "Acme announces new product line for 2025",
    "according to Reuters, Acme reportedly plans layoffs",
    "smh ugh wtf",
    "it's fine. everything is fine. 🙄",
    "so much for 'next day delivery' 😤",
    "not bad, not great",
    "not happy with the service, not good enough",
    "isn't it amazing how they still haven't fixed it",
    "can't believe it's been 3 weeks and still nothing",
    "I'm so glad I switched to Acme, best decision",
    "we're stranded at the airport, flight cancelled, no one from Acme here",
    "our internet has been down for days",
    "anyone else's app not loading? is it just me",
    "Supercalifragilisticexpialidocious-antidisestablishmentarianism",
    "x y z a b c d e f g h i j",
    "don't won't can't shouldn't y'all o'clock rock'n'roll",
    "it's it\u2019s \u2018quoted\u2019 \u201cdouble\u201d",
    "under_score snake_case __dunder__ 1_000",
    "numbers 1234567890 3.14 2,000 #1 100%",
    "tabs\tand\nnewlines\r\nand   spaces",
    "<b>worst</b> &amp; <i>service</i> &lt;3",
    "<script>alert('x')</script> hello",
    "visit https://example.com/path?q=1 for more",
    "\x00\x01 control \x7f chars \u200b zero width",
    "\u202eesrever\ufeff text",
    "a" * 300,
    "word " * 200,
    "🙂" * 50,
    "ab cd ef gh ij kl mn op qr st uv wx yz " * 20,
    "Ω≈ç√∫\u02dcµ≤≥÷ åß∂ƒ©˙∆˚¬…æ",
    "Ⓐⓒⓜⓔ ⓢⓤⓒⓚⓢ",
    "ǅemal ǈubljana ǋovak",
    "İstanbul'da hizmet çok kötü",
    "ΣΊΣΥΦΟΣ σίσυφος",
    "Straße STRASSE straße",
    "ﬁx ﬂight ﬀ",
    "mixed ASCII and 日本語 and العربية text",
    "שירות גרוע מאוד",
    "!?!?!?",
    "?!?! why?! why!?",
    "'",
    "''quoted''",
    "-",
    "--- ... ,,,",
    "e-mail re-send co-operate",
    "hi",
    "2",
    "#hashtag #AcmeFail #NeverAgain",
    "Dear @Acme, your support team hung up on me twice. Unacceptable.",
    "Hey @Acme, any update on my ticket? Been waiting 5 days",
    "So @Acme great job on the new store, lovely staff",
    "thx ty cheers 👏",
    "recommend Acme to everyone, excellent and fast",
    "the fix worked, resolved, thanks team",
    "not arrived, not delivered, never received",
    "Acme fined by the FTC over unsolicited marketing calls",
    "Acme outage: millions of users affected worldwide",
    "Ofcom probe into Acme dropped calls",
    "I love it when my train is late again",
    "yeah right, 'customer first'",
    "do you ship to Canada?",
    "what time do you open on Sunday?",
    "is there a student discount?",
    "la factura está mal, me cobraron dos veces",
    "prélevé deux fois, remboursement svp",
    "doppelt abgebucht, Rückerstattung bitte",
    "cobrança indevida de novo",
    "Acme: data leak exposes 2m customer records",
    "my account was hacked and nobody helps",
    "compromised account, stolen data, no reply",
]

# Per-mention fields that change the verdict: titles, news sites, reach, engagement, platform.
VARIANTS: list[dict[str, Any]] = [
    {},
    {"title": "Acme confirms data breach"},
    {"title": "Customer review", "source_kind": "x"},
    {"url": "https://www.reuters.com/technology/acme-breach"},
    {"url": "https://news.sky.com/story/acme"},
    {"url": "not a url"},
    {"url": "http://[::1"},
    {"author_followers": 2_500_000, "author_verified": True},
    {"author_followers": 1_200},
    {"author_followers": 999},
    {"engagement": {"replies": 3, "reposts": 40, "likes": 900, "quotes": 2}},
    {"title": "Breaking news: Acme outage", "author_followers": 50_000, "source_kind": "feed"},
]


def golden_mentions() -> list[Mention]:
    """Every text plain, and every ninth text with each variant in turn."""
    mentions = [Mention(source="golden", external_id=f"t{i}", text=t) for i, t in enumerate(TEXTS)]
    for i, text in enumerate(TEXTS[::9]):
        for j, fields in enumerate(VARIANTS[1:], start=1):
            mentions.append(
                Mention(source="golden", external_id=f"v{i}.{j}", text=text, **_fields(fields))
            )
    return mentions


def _fields(raw: dict[str, Any]) -> dict[str, Any]:
    fields = dict(raw)
    if "engagement" in fields:
        fields["engagement"] = Engagement(**fields["engagement"])
    return fields


def _mention_record(mention: Mention) -> dict[str, Any]:
    """The fields the golden mentions set; the rest keep their defaults."""
    record: dict[str, Any] = {"external_id": mention.external_id, "text": mention.text}
    for field in ("title", "url", "author_followers", "author_verified"):
        if getattr(mention, field):
            record[field] = getattr(mention, field)
    if mention.engagement.total:
        e = mention.engagement
        record["engagement"] = [e.replies, e.reposts, e.likes, e.quotes]
    if mention.source_kind != "feed":
        record["source_kind"] = mention.source_kind
    return record


def _score_record(score: Score) -> dict[str, Any]:
    # Full floats (JSON keeps every digit of a double), so differences far below the rounding
    # the service shows still fail the test.
    return {
        "dissatisfaction": score.dissatisfaction,
        "dissatisfied": score.dissatisfied,
        "incident_risk": score.incident_risk,
        "category": score.category.value,
        "reason": score.reason.value if score.reason else None,
        "signals": [[s.name, s.weight] for s in score.signals],
        "scorer": score.scorer,
    }


def _read_golden() -> list[tuple[Mention, dict[str, Any]]]:
    cases = []
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        fields = dict(record["mention"])
        fields["engagement"] = Engagement(*fields.get("engagement", ()))
        cases.append((Mention(source="golden", **fields), record["score"]))
    return cases


@pytest.fixture(scope="module")
def scorer() -> ModelScorer:
    return ModelScorer(load_weights(SHIPPED_WEIGHTS))


def _reference_counts(texts: list[str], scorer: ModelScorer) -> sparse.csr_matrix:
    """Raw counts as scikit-learn's own `HashingVectorizer` computes them: the slow path."""
    config = scorer.weights.vectorizer.config
    common: dict[str, Any] = {
        "n_features": config.n_features,
        "alternate_sign": False,
        "norm": None,
        "dtype": np.float64,
        "lowercase": False,
    }
    word = HashingVectorizer(ngram_range=config.word_ngrams, token_pattern=_TOKEN_PATTERN, **common)
    char = HashingVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams, **common)
    prepared = [preprocess(t) for t in texts]
    return sparse.hstack([word.transform(prepared), char.transform(prepared)], format="csr")


def _feature_texts() -> list[str]:
    texts = list(TEXTS)
    texts += [m.text + " " + m.text.upper() for m in golden_mentions()[:40]]
    # Words of every length around the n-gram range, alone and together.
    texts += ["x" * n for n in range(1, 8)]
    texts += [" ".join("y" * n for n in range(1, 8))]
    texts += ["  leading and trailing  ", "\u00a0nbsp\u00a0", "\u3000ideographic\u3000space"]
    texts += ["sep\x1carated\x1dby\x1eunit\x1fseparators", "aaaa aaaa abab abab", "z" * 46]
    texts += ["z" * 47, "z" * 48, "é" * 60, "—", "— ? !", "@acme"]
    return texts


def _assert_same_matrix(fast: sparse.csr_matrix, slow: sparse.csr_matrix) -> None:
    fast.sort_indices()
    slow.sort_indices()
    assert fast.shape == slow.shape
    assert np.array_equal(fast.indptr, slow.indptr)
    assert np.array_equal(fast.indices, slow.indices)
    assert np.array_equal(fast.data, slow.data)


def test_fast_counts_are_scikit_learns_counts(scorer: ModelScorer) -> None:
    texts = _feature_texts()
    shipped = scorer.weights.vectorizer
    # A fresh vectorizer remembers no words; the second call finds half of them remembered.
    vectorizer = TextVectorizer(shipped.config, shipped.idf)
    _assert_same_matrix(vectorizer.counts(texts[::2]), _reference_counts(texts[::2], scorer))
    _assert_same_matrix(vectorizer.counts(texts), _reference_counts(texts, scorer))
    _assert_same_matrix(vectorizer.counts(texts), _reference_counts(texts, scorer))
    for text in texts[:40]:
        _assert_same_matrix(vectorizer.counts([text]), _reference_counts([text], scorer))


def test_a_few_texts_weighed_without_scipy_are_transforms_rows_to_the_bit(
    scorer: ModelScorer,
) -> None:
    texts = _feature_texts()
    shipped = scorer.weights.vectorizer
    # Fresh, so words are hashed both ways: here one by one, in `transform` by the hasher.
    vectorizer = TextVectorizer(shipped.config, shipped.idf)
    coef = scorer.weights.coef
    for start in range(0, len(texts), 7):
        batch = texts[start : start + 7]
        data, indices, indptr = vectorizer.weighed_rows(batch)
        matrix = shipped.transform(batch)
        matrix.sort_indices()
        assert np.array_equal(indptr, matrix.indptr)
        assert np.array_equal(indices, matrix.indices)
        assert np.array_equal(data, matrix.data)  # exactly, not merely close
        assert np.array_equal(rows_times(data, indices, indptr, coef), matrix @ coef)
    assert vectorizer._word_columns == {
        w: shipped._word_columns[w] for w in vectorizer._word_columns
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=SMALL_BATCH))
def test_any_few_texts_get_the_same_log_odds_both_ways(
    scorer: ModelScorer, texts: list[str]
) -> None:
    small = scorer.base_logits(texts)  # SMALL_BATCH or fewer: without SciPy
    vectorizer, coef = scorer.weights.vectorizer, scorer.weights.coef
    large = np.asarray(vectorizer.transform(texts) @ coef) + scorer.weights.intercept
    assert np.array_equal(small, large)


def test_no_text_at_all_has_no_features(scorer: ModelScorer) -> None:
    counts = scorer.weights.vectorizer.counts(["", " ", "\t\n"])
    assert counts.shape == (3, 2 * scorer.weights.vectorizer.config.n_features)
    assert counts.nnz == 0


def test_fast_features_are_the_tfidf_of_scikit_learns_counts(scorer: ModelScorer) -> None:
    texts = _feature_texts()
    vectorizer = scorer.weights.vectorizer
    fast = vectorizer.transform(texts)
    counts = _reference_counts(texts, scorer)
    slow = counts.astype(np.float64)
    np.log(slow.data, out=slow.data)
    slow.data += 1.0
    slow = normalize(slow.multiply(vectorizer.idf).tocsr(), norm="l2")
    fast.sort_indices()
    slow.sort_indices()
    assert np.array_equal(fast.indptr, slow.indptr)
    assert np.array_equal(fast.indices, slow.indices)
    assert np.allclose(fast.data, slow.data, rtol=1e-12, atol=1e-15)


def test_scores_match_the_golden_file(scorer: ModelScorer) -> None:
    cases = _read_golden()
    assert len(cases) >= 200
    scores = scorer.score_batch([m for m, _ in cases])
    for (mention, expected), score in zip(cases, scores, strict=True):
        got = _score_record(score)
        where = f"{mention.external_id}: {mention.text[:60]!r}"
        assert math.isclose(got["dissatisfaction"], expected["dissatisfaction"], abs_tol=1e-9), (
            where
        )
        assert got["dissatisfied"] == expected["dissatisfied"], where
        assert math.isclose(got["incident_risk"], expected["incident_risk"], abs_tol=1e-12), where
        assert got["category"] == expected["category"], where
        assert got["reason"] == expected["reason"], where
        assert got["scorer"] == expected["scorer"], where
        assert [n for n, _ in got["signals"]] == [n for n, _ in expected["signals"]], where
        for (name, weight), (_, want) in zip(got["signals"], expected["signals"], strict=True):
            assert math.isclose(weight, want, abs_tol=1e-9), f"{where} {name}"


def test_small_batches_score_as_one_large_batch(scorer: ModelScorer) -> None:
    mentions = [m for m, _ in _read_golden()]
    whole = [_score_record(s) for s in scorer.score_batch(mentions)]
    pieces = [
        _score_record(s)
        for start in range(0, len(mentions), 5)
        for s in scorer.score_batch(mentions[start : start + 5])
    ]
    assert pieces == whole


def _cues_the_plain_way(lowered: str, tokens: list[str]) -> list[CueHit]:
    """`find_cues` as first written: every slice length at every start, every pair compared."""
    by_tokens = cues_module._BY_TOKENS
    max_words = max(len(key) for key in by_tokens)
    hits: list[CueHit] = []
    for i in range(len(tokens)):
        for n in range(min(max_words, len(tokens) - i), 0, -1):
            hits.extend(
                CueHit(cue, i, i + n) for cue in by_tokens.get(tuple(tokens[i : i + n]), ())
            )

    def group(hit: CueHit) -> Family:
        family = hit.cue.family
        return Family.COMPLAINT if family in lexicon_module._COMPLAINT_FAMILIES else family

    hits = [
        h
        for h in hits
        if not any(
            group(o) is group(h)
            and o.start <= h.start
            and h.end <= o.end
            and o.end - o.start > h.end - h.start
            for o in hits
        )
    ]
    if cues_module._DURATION.search(lowered):
        hits.append(CueHit(DURATION_CUE, -1, -1))
    hits.extend(CueHit(c, -1, -1) for c in cues_module._EMOJI_CUES if c.phrase in lowered)
    return hits


CUE_PHRASES = sorted(" ".join(key) for key in cues_module._BY_TOKENS)
CUE_WORDS = sorted({word for key in cues_module._BY_TOKENS for word in key})


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(CUE_PHRASES),
            st.sampled_from(CUE_WORDS),
            st.sampled_from(["2", "hours", "an", "hour", "3hrs", "mins", "😡", "🙏", "x", "?"]),
            st.text(max_size=6),
        ),
        max_size=30,
    )
)
def test_cues_are_found_as_the_plain_way_finds_them(words: list[str]) -> None:
    lowered = " ".join(words).lower()
    tokens = WORD.findall(lowered)
    assert find_cues(lowered, tokens) == _cues_the_plain_way(lowered, tokens)


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.Reuters.com/x", "reuters.com"),
        ("https://reu\tters.com/x", "reuters.com"),  # urlsplit drops tabs and newlines
        ("https://bbc.co.uk\r\n/x", "bbc.co.uk"),
        ("\n https://apnews.com/a", "apnews.com"),
        ("https://user:pw@edition.cnn.com:443/x", "cnn.com"),
        ("https://NEWS.SKY.COM", "news.sky.com"),
        ("https://reuters.com.example.org/", ""),
        ("https://example.org/reuters.com", ""),
        ("news.sky.com/story", ""),
        ("http://[::1", ""),
        ("https://example.org/", ""),
    ],
)
def test_news_sites_are_recognised_only_by_their_host(url: str, site: str) -> None:
    assert news_domain_of(url) == site


def write_golden() -> None:
    scorer = ModelScorer(load_weights(SHIPPED_WEIGHTS))
    mentions = golden_mentions()
    lines = [
        json.dumps(
            {"mention": _mention_record(m), "score": _score_record(s)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for m, s in zip(mentions, scorer.score_batch(mentions), strict=True)
    ]
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} cases to {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-golden"]:
        raise SystemExit(__doc__)
    write_golden()
