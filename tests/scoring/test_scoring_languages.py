"""Dissatisfaction beyond English: language detection, the cue lexicons in each language, and
the shipped model's verdict on clear cases in every language it is trained for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from listener.domain import Category, Mention
from listener.scoring import make_scorer
from listener.scoring.cues import Family
from listener.scoring.language import (
    detect_language,
    language_filter,
    language_of,
    normalise_language,
    to_simplified,
    with_language,
)
from listener.scoring.model import load_weights
from listener.scoring.reading import read
from listener.scoring.train import main as train_main
from listener.settings import ScoringSettings
from tests.scoring.test_scoring_model import write_dataset

DETECTED = [
    ("我的云帆航空航班又延误了三个小时，太糟糕了！", "zh"),
    ("我的雲帆航空航班又延誤了三個小時，太糟糕了！", "zh"),
    ("la app no funciona desde hace tres días, pésimo servicio", "es"),
    ("ça ne marche toujours pas, je suis vraiment déçu du service client", "fr"),
    ("die App funktioniert schon wieder nicht, ich warte seit zwei Stunden", "de"),
    ("o aplicativo não funciona desde ontem, péssimo atendimento", "pt"),
    ("l'app non funziona da tre giorni, servizio pessimo", "it"),
    ("الخدمة سيئة جدا والتطبيق لا يعمل منذ يومين", "ar"),
    ("यह सेवा बहुत बेकार है, दो दिन से ऐप नहीं चल रहा", "hi"),
    ("yaar ye app kya bakwas hai, do din se kaam nahi kar raha", "hi"),
    ("@O2 still on hold after 3 hours, this is ridiculous", "en"),
    ("新幹線が遅れています", "ja"),
    ("@O2 https://t.co/x 123", ""),
]


@pytest.mark.parametrize(("text", "lang"), DETECTED)
def test_the_language_of_a_text_is_detected(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    ("given", "code"),
    [("zh-Hant", "zh"), ("zh_TW", "zh"), ("PT-br", "pt"), ("und", ""), ("qme", ""), ("", "")],
)
def test_a_sources_language_tag_is_reduced_to_its_code(given: str, code: str) -> None:
    assert normalise_language(given) == code


def test_the_sources_language_wins_over_detection() -> None:
    assert language_of("la app no funciona", "en") == "en"
    assert language_of("la app no funciona desde ayer", "und") == "es"
    mention = Mention("x", "1", "la app no funciona", lang="es-419")
    assert with_language(mention).lang == "es"
    assert with_language(Mention("x", "2", "no funciona", lang="es")) == Mention(
        "x", "2", "no funciona", lang="es"
    )


def test_a_language_filter_is_read_as_people_type_it() -> None:
    assert [language_filter(v) for v in ("ZH", " zh-TW ", "-", "", "x1")] == [
        "zh",
        "zh",
        "-",
        "",
        "",
    ]


def test_traditional_chinese_reads_as_simplified() -> None:
    assert to_simplified("退訂，資料洩露了") == "退订，资料泄露了"
    assert to_simplified("plain text stays") == "plain text stays"


CUES = [
    ("又收到你们的垃圾短信了，烦死了", Family.SPAM),
    ("你们把我的个人信息泄露给了骚扰电话", Family.PRIVACY),
    ("APP又崩了，登录不了", Family.OUTAGE),
    ("网曝该公司数据泄露", Family.INCIDENT),
    ("recibo publicidad todos los días", Family.SPAM),
    ("la page est en panne depuis ce matin", Family.OUTAGE),
    ("meine Daten wurden ohne Zustimmung weitergegeben", Family.PRIVACY),
    ("vazamento de dados de clientes", Family.INCIDENT),
    ("الخدمة زفت", Family.COMPLAINT),
    ("बहुत बेकार सेवा", Family.COMPLAINT),
    ("非常满意，谢谢", Family.PRAISE),
]


@pytest.mark.parametrize(("text", "family"), CUES)
def test_cue_lexicons_speak_each_language(text: str, family: Family) -> None:
    reading = read(Mention("t", "1", text))
    assert family in {hit.cue.family for hit in reading.cues}


def test_the_longest_chinese_phrase_wins() -> None:
    phrases = [hit.cue.phrase for hit in read(Mention("t", "1", "我很不满意")).cues]
    assert "满意" not in phrases  # "不满" (dissatisfied), not "满意" (satisfied)


# Clear cases in each language: (text, dissatisfied). The shipped model must get all of them.
GOLDEN = [
    ("我的云帆航空航班又延误了三个小时，太糟糕了！", True),
    ("我的雲帆航空航班又延誤了三個小時，太糟糕了！", True),
    ("外卖送了两个小时，饭菜都凉了，再也不点了", True),
    ("客服态度很差，打了三次电话都没人理", True),
    ("送餐很快，味道很好，非常满意", False),
    ("服務很好，房間乾淨，下次還會再來", False),
    ("做工粗糙，不值这个价，已经退货了", True),  # a product review: a kind training never saw
    ("质量很好，物流快，值得购买", False),
    ("la app no funciona desde hace tres días, pésimo servicio", True),
    ("gracias por la ayuda tan rápida, excelente atención", False),
    ("toujours pas de remboursement après un mois, c'est une honte", True),
    ("merci beaucoup, service parfait et très rapide", False),
    ("die App funktioniert schon wieder nicht, echt eine Frechheit", True),
    ("vielen Dank, super schneller Service!", False),
    ("péssimo atendimento, ainda não recebi meu pedido", True),
    ("obrigado pela ajuda, atendimento excelente", False),
    ("servizio pessimo, ancora nessun rimborso, vergognoso", True),
    ("grazie mille, servizio perfetto", False),
    ("خدمة سيئة جدا والتطبيق لا يعمل، حسبي الله", True),
    ("شكرا على الخدمة الممتازة", False),
    ("yaar ye app bilkul bakwas hai, paise bhi wapas nahi kiye", True),
]


@pytest.fixture(scope="module")
def scored() -> dict[str, tuple[bool, Category]]:
    scorer = make_scorer(ScoringSettings())
    scores = scorer.score_batch([Mention("t", str(i), t) for i, (t, _) in enumerate(GOLDEN)])
    return {t: (s.dissatisfied, s.category) for (t, _), s in zip(GOLDEN, scores, strict=True)}


@pytest.mark.parametrize(("text", "dissatisfied"), GOLDEN)
def test_the_shipped_model_reads_each_language(
    scored: dict[str, tuple[bool, Category]], text: str, dissatisfied: bool
) -> None:
    assert scored[text][0] is dissatisfied


def test_the_demo_complaint_is_a_complaint_about_a_delay() -> None:
    (score,) = make_scorer(ScoringSettings()).score_batch(
        [Mention("t", "1", "我的云帆航空航班又延误了三个小时，太糟糕了！")]
    )
    assert score.dissatisfied and score.dissatisfaction > 0.7
    assert score.category is Category.COMPLAINT
    assert score.reason is not None and score.reason.value == "delay"
    assert any(s.name == "Chinese dissatisfaction model" for s in score.signals)


def test_chinese_spam_and_leaks_are_categorised_and_raise_incident_risk() -> None:
    scorer = make_scorer(ScoringSettings())
    spam, leak = scorer.score_batch(
        [
            Mention("t", "1", "云帆航空天天给我发垃圾短信，回复TD退订也没用！"),
            Mention("t", "2", "云帆航空数据泄露，几百万用户的个人信息被卖了"),
        ]
    )
    assert spam.category is Category.SPAM_COMPLAINT and spam.dissatisfied
    assert leak.category is Category.PRIVACY and leak.dissatisfied
    assert leak.incident_risk > spam.incident_risk


def write_multilingual(root: Path) -> None:
    """A tiny multilingual/ folder in the shared layout: Spanish tweets, Chinese reviews."""
    folder = root / "multilingual"
    unhappy_es = ["no funciona nada, pésimo", "sigo esperando, una vergüenza", "estafa total"]
    happy_es = ["gracias, excelente servicio", "todo perfecto, genial", "muy rápido, gracias"]
    unhappy_zh = ["太慢了，差评", "又延误了，太糟糕", "客服态度很差"]
    happy_zh = ["很快，好吃，满意", "服务很好，谢谢", "非常满意，推荐"]
    for split, name in (("train", "train"), ("val", "val")):
        rows = [
            {"text": f"{t} {split} {i}", "lang": "es", "dissatisfied": d, "label": 0}
            for i in range(8)
            for t, d in ((unhappy_es[i % 3], True), (happy_es[i % 3], False))
        ]
        (folder / "xlm_t_umsab").mkdir(parents=True, exist_ok=True)
        (folder / "xlm_t_umsab" / f"{name}.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
        )
    for dataset in ("waimai_10k", "chnsenticorp_htl_all"):
        rows = [
            {"text": f"{t}{i}", "lang": "zh", "dissatisfied": d, "label": 0}
            for i in range(20)
            for t, d in ((unhappy_zh[i % 3], True), (happy_zh[i % 3], False))
        ]
        (folder / dataset).mkdir(parents=True)
        (folder / dataset / "train.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
        )


def test_training_learns_other_languages_and_can_keep_the_english_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_dataset(tmp_path / "data")
    english_only = tmp_path / "english"
    assert train_main(["--data", str(data), "--out", str(english_only)]) == 0
    assert load_weights(english_only.resolve()).multilingual is None

    write_multilingual(data)
    out = tmp_path / "weights"
    code = train_main(["--data", str(data), "--keep-english", str(english_only), "--out", str(out)])
    assert code == 0
    assert "zh held out" in capsys.readouterr().out
    before, after = load_weights(english_only.resolve()), load_weights(out.resolve())
    assert after.multilingual is not None and set(after.multilingual.languages) == {"es", "zh"}
    assert np.array_equal(after.coef[:, :4], before.coef)  # English models as they were
    assert np.array_equal(after.stacker_coef, before.stacker_coef)
    meta = json.loads((out / "weights.json").read_text(encoding="utf-8"))
    assert meta["trained_on"]["umsab_es"] == 16 and any("XLM-T" in d for d in meta["datasets"])

    scorer = make_scorer(ScoringSettings(model=str(out)))
    unhappy, happy = scorer.score_batch(
        [Mention("t", "1", "太慢了，差评"), Mention("t", "2", "非常满意，谢谢")]
    )
    assert unhappy.dissatisfaction > happy.dissatisfaction
    assert any(s.name == "Chinese dissatisfaction model" for s in unhappy.signals)
    english = make_scorer(ScoringSettings(model=str(english_only)))
    (plain,) = english.score_batch([Mention("t", "1", "太慢了，差评")])
    assert not any("Chinese" in s.name for s in plain.signals)  # older weights: English only
