"""Recognise a request to stop hearing from the brand, without mistaking everyday uses of "stop".

Pure. A message opts out when it is a bare keyword ("STOP", "unsubscribe", "stop please"), when
it opens or closes with a shouted STOP, or when it contains a clear request about contacting the
author ("stop messaging me", "don't contact me", "leave me alone", "remove me from your list").
"can't stop laughing", "bus stop" and "they never stop calling me" (a statement, not a request)
do not count: adding someone to do-not-contact by mistake silences a customer who wanted help.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from listener.scoring.language import to_simplified

__all__ = ["is_opt_out", "mention_opt_out", "opt_out_phrase"]

_HANDLE = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"https?://\S+")
# Devanagari vowel signs and Arabic vowel marks are not \w but are part of words.
_NON_WORD = re.compile(r"[^\w' \u0900-\u097f\u064b-\u065f]+")
_SPACES = re.compile(r"\s+")

# Whole messages that are a keyword and nothing else (after handles and punctuation go).
_BARE_KEYWORDS = {
    "stop": "stop",
    "stop please": "stop",
    "please stop": "stop",
    "stop it": "stop",
    "stop stop": "stop",
    "stop now": "stop",
    "stopall": "stop",
    "stop all": "stop",
    "unsubscribe": "unsubscribe",
    "unsubscribe me": "unsubscribe",
    "please unsubscribe me": "unsubscribe",
    "opt out": "opt out",
    "optout": "opt out",
    "opt me out": "opt out",
    "remove me": "remove me",
    # The keywords carriers and senders use beyond English, as the whole message. Chinese SMS
    # says "回复TD退订" (reply TD to unsubscribe), so a bare "TD" is one too, but only alone.
    "td": "退订",
    "退订": "退订",
    "td退订": "退订",
    "回复td退订": "退订",
    "退订 td": "退订",
    "取消订阅": "退订",
    "baja": "baja",
    "alta baja": "baja",
    "darme de baja": "baja",
    "dar de baja": "baja",
    "baja por favor": "baja",
    "cancelar suscripción": "baja",
    "cancelar suscripcion": "baja",
    "désabonner": "désabonner",
    "desabonner": "désabonner",
    "désabonnement": "désabonner",
    "désinscrire": "désabonner",
    "desinscrire": "désabonner",
    "désinscription": "désabonner",
    "arrêt": "désabonner",
    "stopp": "abmelden",
    "abmelden": "abmelden",
    "bitte abmelden": "abmelden",
    "abbestellen": "abmelden",
    "descadastrar": "descadastrar",
    "cancelar inscrição": "descadastrar",
    "cancelar inscricao": "descadastrar",
    "sair": "descadastrar",
    "disiscriviti": "disiscriviti",
    "disiscrivimi": "disiscriviti",
    "disiscrivetemi": "disiscriviti",
    "cancellami": "disiscriviti",
    "إلغاء الاشتراك": "إلغاء الاشتراك",
    "الغاء الاشتراك": "إلغاء الاشتراك",
    "إيقاف": "إلغاء الاشتراك",
    "ايقاف": "إلغاء الاشتراك",
    "बंद करो": "बंद करो",
    "सदस्यता रद्द करें": "बंद करो",
}

_CONTACT_VERBS = (
    r"(?:messag|contact|text|e-?mail|mail|spamm|call|phon|dm|dm'|tweet|pm|writ|bother|pester|"
    r"harass|harrass|follow)ing"
)
_CONTACT_NOUNS = r"(?:messages|texts|e-?mails|mails|spam|dms|tweets|marketing|promotions|offers)"
_CONTACT_BASE = (
    r"(?:contact|message|text|e-?mail|mail|dm|pm|call|phone|spam|tweet at|reply to|write to|"
    r"bother|pester|harass)"
)
# Words that turn "stop messaging me" into a statement about someone else, not a request.
_NEGATED = r"(?<!\bnever )(?<!\bcan't )(?<!\bcant )(?<!\bcannot )(?<!\bwon't )(?<!\bwont )" + (
    r"(?<!\bdon't )(?<!\bdont )(?<!\bdoesn't )(?<!\bdoesnt )(?<!\bdidn't )(?<!\bnot )"
)
# Subjects that make "don't contact me" a report ("they don't contact me back").
_THIRD_PERSON = r"(?<!\bthey )(?<!\bhe )(?<!\bshe )(?<!\bit )(?<!\bwho )(?<!\bstill )"

# A pattern that opens with lookbehinds makes the engine try every one of them at every
# position; the leading lookahead of the literal every match starts with rejects most positions
# at their first character instead, and matches the same.
_PHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bunsubscribe\b"), "unsubscribe"),
    (
        re.compile("(?=stop )" + _NEGATED + rf"\bstop (?:\w+ )?{_CONTACT_VERBS} (?:me|us|my)\b"),
        "stop messaging me",
    ),
    (
        re.compile(
            "(?=stop sending )"
            + _NEGATED
            + rf"\bstop sending (?:me|us) (?:\w+ )?{_CONTACT_NOUNS}\b"
        ),
        "stop messaging me",
    ),
    (
        re.compile(
            "(?=do)" + _THIRD_PERSON + rf"\b(?:don't|dont|do not) (?:ever )?{_CONTACT_BASE} me"
            r"(?! back)\b"
        ),
        "don't contact me",
    ),
    (
        re.compile(rf"\bnever (?:ever )?{_CONTACT_BASE} me again\b"),
        "don't contact me",
    ),
    (re.compile(r"(?=leave me alone)(?<!\bto )\bleave me alone\b"), "leave me alone"),
    (
        re.compile(
            r"\b(?:remove|delete|take) (?:me|my (?:number|email|e-mail|address|details|data)) "
            r"(?:from|off) (?:your|the|this|ur|all (?:your|of your)) (?:\w+ )?"
            r"(?:list|lists|database|contacts|system|records)\b"
        ),
        "remove me from your list",
    ),
    (
        re.compile(
            r"\bopt (?:me )?out of (?:your |these |the |all )?"
            r"(?:messages|texts|e-?mails|marketing|contact|list)"
        ),
        "opt out",
    ),
    (re.compile(r"\b(?:want to|wish to|please|let me) opt ?out$"), "opt out"),
    # Chinese: a request to unsubscribe or to stop sending, not just the word (which spam
    # footers and complaints about them quote: "回复TD退订也没用").
    (
        re.compile(
            r"(?:我要|我想|请|请帮我|帮我|给我|申请|马上|立即|立刻)(?:取消订阅|退订)"
            r"|(?:不要|别|不准|请勿)再?(?:给我)?(?:发|打)(?:短信|信息|消息|邮件|电话|广告)"
            r"|^(?:退订|td)(?: (?:谢谢|请|谢谢你|拜托))?$"
        ),
        "退订",
    ),
    (
        re.compile(
            r"\b(?:dar(?:me)? de baja|dame de baja|denme de baja|quiero la baja|"
            r"cancelar (?:mi |la )?suscripci[oó]n|dejen de (?:enviarme|llamarme|escribirme)|"
            r"no me (?:contacten|escriban|llamen|env[ií]en) m[aá]s)\b"
        ),
        "baja",
    ),
    (
        re.compile(
            r"\b(?:d[ée]sabonnez moi|d[ée]sinscrivez moi|me d[ée]sabonner|me d[ée]sinscrire|"
            r"arr[eê]tez de (?:m'|me )(?:envoyer|appeler|[ée]crire|contacter)|"
            r"ne me contactez plus)\b"
        ),
        "désabonner",
    ),
    (
        re.compile(
            r"\b(?:bitte abmelden|melden sie mich ab|meldet mich ab|mich abmelden|"
            r"kontaktieren sie mich nicht mehr|schreiben sie mir nicht mehr|"
            r"h[öo]rt auf mir zu schreiben|keine (?:werbung|nachrichten|sms|e ?mails) mehr)\b"
        ),
        "abmelden",
    ),
    (
        re.compile(
            r"\b(?:me descadastr(?:ar|em)|descadastrem me|quero (?:me )?descadastrar|"
            r"cancelar (?:minha |a )?inscri[çc][ãa]o|parem de me (?:enviar|ligar|mandar)|"
            r"n[ãa]o me (?:contatem|liguem|mandem) mais)\b"
        ),
        "descadastrar",
    ),
    (
        re.compile(
            r"\b(?:disiscrivetemi|cancellatemi|voglio disiscrivermi|smettete(?:la)? di "
            r"(?:scrivermi|chiamarmi|mandarmi)|non (?:contattatemi|scrivetemi|chiamatemi) pi[ùu])\b"
        ),
        "disiscriviti",
    ),
    (
        re.compile(
            r"(?:أريد |اريد |الرجاء |ارجو |أرجو )(?:إلغاء|الغاء) الاشتراك"
            r"|توقفوا عن (?:مراسلتي|ارسال)"
        ),
        "إلغاء الاشتراك",
    ),
    (
        re.compile(
            r"(?:मुझे )?(?:मैसेज|मेसेज|संदेश|कॉल|एसएमएस) (?:भेजना )?(?:बंद करो|बंद करें|मत भेजो|मत करो)"
            r"|\b(?:msg|message|messages|sms|call) (?:bhejna )?(?:band karo|mat bhejo|mat karo)\b"
        ),
        "बंद करो",
    ),
]


# Every way `opt_out_phrase` can answer needs one of these in the folded, case-folded text, so a
# text without any (most mentions) is settled by one search instead of normalising and ten
# patterns. Why each is needed: the bare keywords all contain "stop",
# "unsubscribe", "opt" or "remove"; the patterns start with "unsubscribe", "stop",
# "don't"/"dont"/"do not", "never", "leave me alone", "remove"/"delete"/"take", "opt" or end in
# "opt out"/"optout". `_normalise` only case-folds and turns spans into spaces (it never joins
# two characters), so a run of letters in its result is a run of letters here too; "don't"
# may still carry a curly apostrophe at this point. The shouted STOP is checked on the folded
# text with its case kept (`_shouted_stop`), so `opt_out_phrase` tests "STOP" there.
_MAY_OPT_OUT = re.compile(
    r"stop|unsubscribe|opt|remove|delete|take|don['\u2018\u2019]?t|not|never|alone"
    # Beyond English: the first letters of every keyword and pattern above.
    r"|退|订|取消|发|打|td|baja|suscrip|dej|no me|abonn|inscri|arr|contactez|abmeld|abbestell"
    r"|melde|kontaktier|schreib|h[öo]rt|keine|descadastr|inscri|sair|parem|n[ãa]o me|disiscri"
    r"|cancell|smett|contatt|scrivet|chiamat|الاشتراك|إيقاف|ايقاف|توقفوا|बंद|मत|रद्द|band|mat "
)


def _normalise(folded: str) -> str:
    """`folded` is the text as `_fold` returns it."""
    text = folded.replace("\u2019", "'").replace("\u2018", "'")
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = _NON_WORD.sub(" ", text.casefold())
    return _SPACES.sub(" ", text).strip()


def _shouted_stop(text: str) -> bool:
    """An upper-case STOP that opens or closes the message ("STOP, I never signed up")."""
    if "STOP" not in text:  # the words below are pieces of the text
        return False
    words = re.findall(r"[\w']+", _HANDLE.sub(" ", _URL.sub(" ", text)))
    if not words:
        return False
    if words[0] == "STOP" and (len(words) == 1 or not _shouted(words[1])):
        return True
    return words[-1] == "STOP" and (len(words) == 1 or not _shouted(words[-2]))


def _shouted(word: str) -> bool:
    return len(word) > 1 and word.isupper()


# Invisible format characters (zero-width space and joiner, soft hyphen, bidi marks): they
# split a word on screen no more than in the reader's mind ("ST\u200bOP" is read "STOP").
_INVISIBLE = "Cf"


def _fold(text: str) -> str:
    """`text` in its compatibility form (NFKC: fullwidth, mathematical bold and other
    compatibility letters become STOP and stop), without invisible format characters.
    Accented letters stay what they are: "stöp" is another word."""
    if text.isascii():
        return text
    visible = "".join(c for c in text if unicodedata.category(c) != _INVISIBLE)
    return unicodedata.normalize("NFKC", visible)


@lru_cache(maxsize=4096)
def opt_out_phrase(text: str) -> str | None:
    """The kind of opt-out `text` contains ("stop", "unsubscribe", ...), or None.

    Read in compatibility form and case-folded, so fullwidth, mathematical and decorated
    letters count as the plain ones. Cached: the draft filter and the pipeline both ask
    about each new mention.
    """
    folded = to_simplified(_fold(text))
    if "STOP" not in folded and "STOP" not in text and not _MAY_OPT_OUT.search(folded.casefold()):
        return None
    normal = _normalise(folded)
    if not normal:
        return None
    if normal in _BARE_KEYWORDS:
        return _BARE_KEYWORDS[normal]
    for pattern, phrase in _PHRASES:
        if pattern.search(normal):
            return phrase
    # As written too: NFKC composes a mark into its letter (STOP + U+0301 → STOṔ), while a
    # reader sees STOP with a stray accent, as the text spells it.
    if _shouted_stop(folded) or _shouted_stop(text):
        return "stop"
    return None


def is_opt_out(text: str) -> bool:
    return opt_out_phrase(text) is not None


def mention_opt_out(title: str, text: str) -> str | None:
    """The opt-out in a post with this title and body: read whole (as matching reads it), and
    the body on its own, since a reply under a thread's title is still a message that opens
    with STOP."""
    full = f"{title}\n{text}" if title and title not in text else text
    return opt_out_phrase(full) or (opt_out_phrase(text) if full != text else None)
