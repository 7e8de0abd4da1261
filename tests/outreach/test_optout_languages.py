"""STOP beyond English: each language's keywords and requests opt out; the same words in an
ordinary sentence, or a spam footer quoted in a complaint, do not."""

from __future__ import annotations

import pytest

from listener.outreach.optouts import opt_out_phrase

OPTS_OUT = [
    # zh: the SMS keyword alone (simplified and traditional), and requests
    ("退订", "退订"),
    ("退訂", "退订"),
    ("TD", "退订"),
    ("td", "退订"),
    ("回复TD退订", "退订"),
    ("@SkylineAir 退订", "退订"),
    ("退订，谢谢", "退订"),
    ("取消订阅", "退订"),
    ("我要退订", "退订"),
    ("请帮我退订这些短信", "退订"),
    ("不要再给我发短信了！", "退订"),
    ("別再給我打電話", "退订"),
    # es
    ("BAJA", "baja"),
    ("Baja por favor", "baja"),
    ("quiero darme de baja de sus mensajes", "baja"),
    ("cancelar suscripción", "baja"),
    ("dejen de enviarme publicidad", "baja"),
    ("no me contacten más", "baja"),
    # fr
    ("désabonner", "désabonner"),
    ("Désabonnez-moi svp", "désabonner"),
    ("je veux me désinscrire", "désabonner"),
    ("arrêtez de m'envoyer des SMS", "désabonner"),
    ("ne me contactez plus", "désabonner"),
    # de
    ("abmelden", "abmelden"),
    ("STOPP", "abmelden"),
    ("Bitte abmelden!", "abmelden"),
    ("keine Werbung mehr bitte", "abmelden"),
    ("hört auf mir zu schreiben", "abmelden"),
    # pt
    ("descadastrar", "descadastrar"),
    ("quero me descadastrar", "descadastrar"),
    ("parem de me enviar mensagens", "descadastrar"),
    ("não me liguem mais", "descadastrar"),
    # it
    ("disiscriviti", "disiscriviti"),
    ("disiscrivetemi per favore", "disiscriviti"),
    ("smettete di scrivermi", "disiscriviti"),
    ("non contattatemi più", "disiscriviti"),
    # ar
    ("إلغاء الاشتراك", "إلغاء الاشتراك"),
    ("أريد إلغاء الاشتراك", "إلغاء الاشتراك"),
    ("توقفوا عن مراسلتي", "إلغاء الاشتراك"),
    # hi
    ("बंद करो", "बंद करो"),
    ("मुझे मैसेज मत भेजो", "बंद करो"),
    ("message band karo", "बंद करो"),
]

DOES_NOT = [
    "回复TD退订也没用，还是天天发",  # quoting a spam footer: a complaint, not a request
    "又收到垃圾短信，让我回复TD退订",
    "怎么退订？",  # a question about how, answered by a person
    "TD bank has better rates than you",
    "I love TD",
    "la baja de precios es genial",
    "me di de baja del gimnasio",
    "la baja calidad del servicio",
    "je me suis désabonné d'une autre appli",
    "ich habe mich bei Netflix abgemeldet",
    "vou sair de casa agora",
    "non funziona più niente",
    "الاشتراك الشهري غالي",
    "बंद हो गया है नेटवर्क",
]


@pytest.mark.parametrize(("text", "phrase"), OPTS_OUT)
def test_a_stop_in_each_language_opts_out(text: str, phrase: str) -> None:
    assert opt_out_phrase(text) == phrase


@pytest.mark.parametrize("text", DOES_NOT)
def test_the_same_words_in_an_ordinary_sentence_do_not(text: str) -> None:
    assert opt_out_phrase(text) is None
