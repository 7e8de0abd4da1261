"""Hand-written cue phrases and how they are found in a text.

Generic sentiment (VADER) misses most complaints ("still on hold after 2 hours" is neutral to
it), so these phrases carry the domain knowledge: what unhappy customers, spam and privacy
complaints, outages and breaking incidents sound like, in English and the other languages
listener scores (zh, es, fr, de, pt, it, ar, hi).

Phrases are matched on word tokens (not substrings), so "down" never fires inside "download";
Chinese and Devanagari phrases, whose scripts do not separate words that way, are found as
substrings, longest first.
A phrase that sits wholly inside a longer matched phrase is dropped, so "spam" does not count
again inside "spam texts".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from listener.domain import ComplaintReason
from listener.scoring.language import DEVANAGARI_RANGE, HAN_RANGE


class Family(StrEnum):
    """What kind of evidence a cue is."""

    COMPLAINT = "complaint"
    SPAM = "spam"
    PRIVACY = "privacy"
    OUTAGE = "outage"
    INCIDENT = "incident"
    PRAISE = "praise"
    SARCASM = "sarcasm"
    NEWS = "news"


@dataclass(frozen=True, slots=True)
class Cue:
    """A phrase and its weight: a log-odds contribution to dissatisfaction for most families,
    to incident risk for `Family.INCIDENT`, to news-likeness for `Family.NEWS`."""

    phrase: str
    family: Family
    weight: float
    reason: ComplaintReason | None = None


@dataclass(frozen=True, slots=True)
class CueHit:
    cue: Cue
    start: int
    end: int


_S = ComplaintReason.SERVICE
_D = ComplaintReason.DELAY
_B = ComplaintReason.BILLING
_P = ComplaintReason.PRODUCT
_O = ComplaintReason.OUTAGE

# (weight, reason, phrases); one table per family keeps weights reviewable at a glance.
_COMPLAINT: list[tuple[float, ComplaintReason | None, str]] = [
    (1.4, None, "worst|unacceptable|never again|not good enough|absolutely ridiculous"),
    (1.2, None, "useless|pathetic|appalling|fed up|sort it out|sort this out|not happy|scam"),
    (1.2, None, "rip off|ripoff|ripped off|sucks|beware|disgraceful|shambles|joke of a"),
    (1.0, None, "terrible|awful|horrible|ridiculous|disgusting|unhappy|disappointed"),
    (1.0, None, "disappointing|frustrated|frustrating|annoyed|annoying|shocking|rubbish"),
    (1.0, None, "complaint|complain|complained|complaining|wtf|how hard|yet again|avoid"),
    (1.0, None, "still not|still no|still haven't|still hasn't|still nothing|hate|furious"),
    (0.8, None, "poor|can't believe|cannot believe|please fix|fix this|fix it|sort out|angry"),
    (0.8, None, "won't stop|wont stop|will not stop|doesn't stop|ugh|smh"),
    (0.5, None, "again"),
    (0.6, None, "nobody|no one|lost|missing|how long|seriously|issue|issues|problem"),
    (0.6, None, "problems|why is|why does|why do|why are|why can't|why won't|fix"),
    (0.3, None, "still|another|not"),
    # service
    (1.2, _S, "on hold|rude|unhelpful|not helpful|no response|no reply|nobody answers"),
    (1.2, _S, "no one answers|incompetent|hung up|ignored|ignoring|no help|no answer"),
    (1.0, _S, "been ignored|keep getting transferred|transferred|poor service|bad service"),
    (0.5, _S, "customer service|customer support|support team|call centre|call center"),
    # delay / cancellation
    (1.3, _D, "still waiting|stranded|never arrived|hasn't arrived|has not arrived"),
    (1.2, _D, "not arrived|not delivered|never received|not received|where is my"),
    (1.2, _D, "where's my|wheres my|been waiting|waiting for hours|missed my"),
    (1.0, _D, "delayed|cancelled|canceled|late again|stuck|for hours|for days|for weeks"),
    (0.8, _D, "delay|delays|late|waiting|hours late|rebooked"),
    # billing
    (1.5, _B, "charged twice|double charged|charged me twice|overcharged|no refund"),
    (1.3, _B, "took my money|hidden fees|hidden fee|overcharging|still no refund|stole"),
    (1.0, _B, "charged me|money back|my money|overcharge|debited|want a refund"),
    (0.6, _B, "refund|refunds"),
    (0.5, _B, "billing|bill|fee|fees|charge|charges|price increase"),
    # product
    (1.3, _P, "stopped working|keeps crashing|not working|doesn't work|does not work"),
    (1.2, _P, "broken|faulty|defective|wrong item|wrong order|damaged|broke|won't work"),
    (1.0, _P, "don't work|crashes|crashing|glitch|froze|freezes|keeps freezing|dead"),
    (0.6, _P, "bug|bugs|error|error message"),
    # es / fr / de / pt / it
    (1.4, None, "inadmissible|inacceptable|inaccettabile|unverschämt|frechheit|abzocke"),
    (1.3, None, "pésimo|pesimo|pésima|pesima|péssimo|pessimo|péssima|pessima|vergogna"),
    (1.3, None, "vergognoso|schifo|fa schifo|estafa|arnaque|scandaleux|honteux|descaso"),
    (1.3, None, "katastrophe|katastrophal|zum kotzen|betrug|truffa|disservizio"),
    (1.2, None, "vergüenza|verguenza|vergonha|absurdo|une honte|una vergüenza|nul|kaputt"),
    (1.0, None, "queja|reclamo|reclamación|reclamacion|reclamação|reclamacao|réclamation"),
    (1.0, None, "beschwerde|toujours pas|todavía no|ainda não|ainda nao|immer noch nicht"),
    (1.0, None, "golpe|schlecht|geht nicht|marche pas|mal servicio|servicio pésimo"),
    (1.3, _P, "no funciona|ne marche pas|ne fonctionne pas|funktioniert nicht"),
    (1.3, _P, "não funciona|nao funciona|non funziona|no sirve|não presta"),
    (1.2, _S, "nadie responde|no contestan|personne ne répond|niemand antwortet"),
    (1.2, _S, "ninguém responde|ninguem responde|nessuno risponde|sin respuesta"),
    (1.3, _D, "sigo esperando|j'attends toujours|warte seit|continuo esperando"),
    (1.0, _D, "retraso|retard|verspätung|verspätet|atraso|atrasado|ritardo|cancelado"),
    (1.0, _D, "annulé|ausgefallen|cancellato|storniert"),
    (1.5, _B, "cobrado dos veces|cobrança indevida|doppelt abgebucht|prélevé deux fois"),
    (1.0, _B, "me cobraron|reembolso|remboursement|rückerstattung|erstattung|rimborso"),
    (0.6, _B, "cobro|cobrança|facture|factura|rechnung|fattura"),
    (1.0, None, "horrible|horrível|horrivel|terrível|terrivel|terrible|schrecklich|orribile"),
    (1.0, None, "decepcionado|decepcionada|déçu|déçue|enttäuscht|decepcionado|deluso|delusa"),
    (1.0, None, "nunca más|jamais plus|nie wieder|nunca mais|mai più|lamentable|ridicule"),
    (0.8, None, "malo|mala|mauvais|mauvaise|ruim|pessimo servizio|peggiore|peor|pire|pior"),
    # ar (word tokens; Arabic script is \w)
    (1.3, None, "زفت|فاشل|فاشلة|حرامية|نصابين|نصب|اسوأ|أسوأ|مقرف|تعبان|سيء|سيئ|سيئة"),
    (1.0, None, "شكوى|للأسف|للاسف|مشكلة|مشكله|حسبي الله|ما يشتغل|لا يعمل|ما في رد|بدون رد"),
    (1.0, _D, "تأخير|تاخير|متأخر|متاخر|ملغي|ألغيت|الغيت"),
    (1.0, _B, "استرجاع|فلوسي|خصم|سرقة"),
    # hi, romanised (word tokens)
    (1.3, None, "bekar|bekaar|bakwas|bakwaas|ghatiya|ghatia|dhokha|chor|chutiya"),
    (1.0, None, "kharab|kharaab|bura|shikayat|pareshan|pareshaan|nirash|faltu"),
]

# Chinese and Devanagari have no spaces between words (Chinese) or marks that are not \w
# (Devanagari vowel signs), so these are found as substrings, longest first (see `find_cues`).
# Chinese is written simplified: `read` converts traditional text first.
_SUBSTRING_COMPLAINT: list[tuple[float, ComplaintReason | None, str]] = [
    (1.4, None, "太糟糕|太差劲|太差了|垃圾服务|差评|坑人|骗子|骗人|欺骗|恶心|气死|再也不|不会再"),
    (1.2, None, "糟糕|太差|很差|真差|失望|投诉|不满|无语|后悔|垃圾|坑爹|太坑|忽悠|不靠谱|举报"),
    (1.0, None, "不好|不行|不太好|难吃|不好吃|太贵|一般般|没用|烦死|受不了|郁闷|生气|愤怒"),
    (0.6, None, "又|还是|一直|问题"),
    (1.2, _S, "没人理|没人管|不理人|不回复|没有回复|客服不|态度差|态度恶劣|态度很差|推卸"),
    (1.3, _D, "延误|晚点|还没到|还没送到|等了|一直没|迟迟|太慢|慢死|送得慢|超时|取消了"),
    (1.3, _B, "退款|退钱|乱收费|扣费|多扣|重复扣款|扣了两次|吸血|霸王条款"),
    (1.2, _P, "坏了|不能用|用不了|打不开|闪退|故障|漏发|送错|少了|凉了|假货|质量差"),
    (1.2, _P, "做工差|做工粗糙|次品|破损|发错货|掉色|死机|卡顿|不耐用|不好用|难用|上当"),
    (1.0, _P, "不值|退货|换货|质量不好|质量一般|有异味|发热严重|耗电快|物流慢|快递慢"),
    (1.3, None, "बेकार|घटिया|बकवास|धोखा|बहुत बुरा|शिकायत|निराश|खराब|ख़राब"),
    (1.0, _D, "देरी|देर से"),
    (1.0, _B, "रिफंड|पैसे वापस"),
]
_SUBSTRING_SPAM: list[tuple[float, str]] = [
    (1.6, "垃圾短信|骚扰短信|骚扰电话|营销短信|广告短信|推销电话|回复td退订|天天发短信|一直发短信"),
    (1.3, "骚扰|推销|群发|垃圾邮件|广告电话|退订"),
]
_SUBSTRING_PRIVACY: list[tuple[float, str]] = [
    (1.6, "泄露|泄漏|信息被卖|卖我的信息|出卖用户|个人信息|隐私|电话号码被"),
]
_SUBSTRING_OUTAGE: list[tuple[float, str]] = [
    (1.4, "宕机|崩了|挂了|上不去|登不上|登录不了|连不上|没信号|断网|无法登录|无法连接|没网"),
]
_SUBSTRING_INCIDENT: list[tuple[float, str]] = [
    (1.6, "数据泄露|信息泄露|泄露|黑客|被黑|召回|起诉|诉讼|罚款|食物中毒|爆炸|事故"),
    (1.2, "曝光|调查|大面积|全国|很多人|大家都"),
]
_SUBSTRING_PRAISE: list[tuple[float, str]] = [
    (-0.8, "非常满意|好评|谢谢|感谢|太棒了|很棒|超赞|给力|推荐|五星"),
    (-0.6, "满意|不错|好吃|很好|喜欢|很快|准时|方便|完美|贴心|赞|热情|धन्यवाद|शुक्रिया|बढ़िया"),
    (-0.5, "शानदार|अच्छा"),
    (-0.6, "质量好|质量很好|物流快|发货快|性价比高|做工精细|做工很好|好用|值得购买|正品"),
    (-0.5, "包装好|手感好|流畅|划算|实惠|物超所值|回购"),
]

_SPAM: list[tuple[float, str]] = [
    (1.6, "keep getting spam|keeps sending spam|spam texts|spam calls|nuisance calls"),
    (1.5, "keep getting texts|keep getting calls|keep getting emails|keep getting messages"),
    (1.5, "unsolicited|robocall|robocalls|spam text|spam call|spam emails|spam messages"),
    (1.4, "spamming|spammed|stop texting me|stop calling me|stop emailing me|marketing calls"),
    (1.3, "keeps texting|keeps calling|keep texting|keep calling|keeps emailing"),
    (1.3, "stop sending|cold calls|cold calling|marketing texts|marketing emails|junk mail"),
    (1.2, "opted out|unsubscribed|still getting|without my consent|telemarketing"),
    (1.0, "spam|unsubscribe|junk"),
    (1.3, "llamadas de spam|llamadas comerciales|démarchage|werbeanrufe|chiamate spam"),
    (1.2, "publicidad|mensajes basura|harcèlement|werbung|telemarketing|pubblicità|propaganda"),
    (1.3, "رسائل مزعجة|إزعاج|ازعاج|مزعج|اعلانات|إعلانات"),
]

_PRIVACY: list[tuple[float, str]] = [
    (1.6, "sharing my data|selling my data|sold my data|shared my data|leaked my"),
    (1.6, "sent my number|sending my number|sold my number|gave my number|giving my number"),
    (1.6, "without my permission|privacy violation|identity theft|doxxed|data leak"),
    (1.5, "data breach|my data was|my data has been|my details were|my details have been"),
    (1.3, "tracking me|spying on|spy on|without consent|gdpr|data protection|my privacy"),
    (1.2, "sharing my|selling my|sold my|shared my|leaking|third parties|leaked"),
    (1.2, "leaks|exposes|exposing|phone numbers|customer data|subscriber data|user data"),
    (1.0, "sending my|privacy|personal data|personal information|every website|every site"),
    (0.9, "my phone number|my number|my data|my email address|my personal|my details"),
    (1.3, "mis datos|mes données|meine daten|meus dados|i miei dati|protección de datos"),
    (1.3, "datos personales|données personnelles|datenschutz|dados pessoais|dati personali"),
    (1.3, "تسريب|بياناتي|خصوصية|خصوصيتي"),
]

_OUTAGE: list[tuple[float, str]] = [
    (1.5, "outage|outages|no signal|no internet|servers down|server down|down again"),
    (1.4, "is down|are down|went down|goes down|service down|internet down|app down"),
    (1.3, "no service|no connection|not loading|won't load|wont load|can't connect"),
    (1.3, "cant connect|cannot connect|can't log in|cant log in|can't login|cant login"),
    (1.3, "unable to log in|unable to login|unable to connect|server error|no power"),
    (1.2, "power cut|no wifi|no broadband|dropped calls|keeps dropping|connection dropped"),
    (0.8, "offline|blackout|503|502|not responding|down for"),
    (1.4, "sin servicio|sin señal|sin internet|en panne|panne|pas de réseau|störung"),
    (1.3, "kein netz|kein internet|ausfall|sem sinal|sem internet|fora do ar|guasto"),
    (1.3, "fuori servizio|senza linea|senza rete|plus de réseau|caído|caida|caído"),
    (1.3, "se cayó|no carga|nicht erreichbar|caiu|non va|non carica|ne charge pas"),
    (1.3, "عطل|انقطاع|مقطوع|طايح|طايحة"),
]

# Weights here are log-odds of incident risk, not of dissatisfaction.
_INCIDENT: list[tuple[float, str]] = [
    (1.6, "data breach|breach|breached|hacked|ransomware|cyberattack|cyber attack|recall"),
    (1.6, "recalled|lawsuit|class action|sued|suing|fined|outage|data leak|leaked|leak"),
    (1.6, "leaks|leaking|exposes|exposing|breaches|hacks|sued over"),
    (1.4, "exposed|compromised|stolen data|regulator|regulators|investigation|boycott"),
    (1.4, "food poisoning|salmonella|listeria|contaminated|explosion|injured|evacuated"),
    (1.3, "scandal|hack|hackers|emergency landing|safety concerns|whistleblower|fire"),
    (1.2, "customers affected|users affected|millions of|thousands of|nationwide|worldwide"),
    (1.0, "outages|ftc|fcc|ofcom|cnil|regulatory|probe|viral|is down|went down|goes down"),
    (0.5, "down|fine|sec|ico"),
    (1.0, "everyone|anyone else|anyone else's|is it just me|all over|across the country"),
    (1.0, "whole city|whole country|across the city|entire city|nationwide outage"),
    (1.4, "filtración|fuite de données|datenleck|vazamento|fuga de datos|demanda"),
    (1.4, "hackeo|piratage|hackerangriff|ataque hacker|attacco hacker|rückruf|retirada"),
    (1.4, "اختراق|دعوى|غرامة|فضيحة"),
]

_PRAISE: list[tuple[float, str]] = [
    (-0.9, "thank you so much|well done|kudos|shout out|shoutout|good job|great job"),
    (-0.8, "thank you|big thanks|nice one|props|much appreciated|impressed|great service"),
    (-0.6, "thanks|love|awesome|amazing|excellent|fantastic|appreciate|brilliant|perfect"),
    (-0.5, "thx|ty|great|helpful|recommend|best|happy|glad|cheers|wonderful|sorted|quick"),
    (-0.3, "resolved|fixed|good|nice|pleased|lovely|fast"),
    (-0.6, "gracias|merci|danke|obrigado|obrigada|grazie|genial|génial|excelente|parfait"),
    (-0.5, "super|toll|increíble|ótimo|otimo|bravo|perfecto|perfeito|perfetto|vielen dank"),
    (-0.6, "شكرا|شكراً|شكرًا|ممتاز|ممتازة|الممتاز|الممتازة|رائع|رائعة|الرائعة|جميل|أحسنتم"),
    (-0.6, "احسنتم|يعطيك العافية|shukriya|dhanyavad|badhiya"),
]

_SARCASM: list[tuple[float, str]] = [
    (1.6, "thanks for nothing|cheers for nothing|thanks a bunch|thanks a lot"),
    (1.0, "oh great|just great|just what i needed|so much for|yeah right|love how"),
    (0.8, "love it when|gotta love|got to love|nice work|well done again"),
]

_NEWS: list[tuple[float, str]] = [
    (1.0, "reportedly|according to|announced|announces|breaking|exclusive|press release"),
    (1.0, "spokesperson|spokesman|spokeswoman|said in a statement|confirmed|statement"),
    (0.6, "report|reports|says|said|analysis|update|shares|stock|investors|ceo"),
]


def _expand(rows: Iterable[tuple[float, ComplaintReason | None, str]], family: Family) -> list[Cue]:
    return [
        Cue(phrase, family, weight, reason)
        for weight, reason, phrases in rows
        for phrase in phrases.split("|")
    ]


def _families(
    complaint: list[tuple[float, ComplaintReason | None, str]],
    spam: list[tuple[float, str]],
    privacy: list[tuple[float, str]],
    outage: list[tuple[float, str]],
    incident: list[tuple[float, str]],
    praise: list[tuple[float, str]],
) -> list[Cue]:
    return (
        _expand(complaint, Family.COMPLAINT)
        + _expand(((w, ComplaintReason.SPAM, p) for w, p in spam), Family.SPAM)
        + _expand(((w, ComplaintReason.PRIVACY, p) for w, p in privacy), Family.PRIVACY)
        + _expand(((w, _O, p) for w, p in outage), Family.OUTAGE)
        + _expand(((w, None, p) for w, p in incident), Family.INCIDENT)
        + _expand(((w, None, p) for w, p in praise), Family.PRAISE)
    )


SUBSTRING_CUES: tuple[Cue, ...] = tuple(
    _families(
        _SUBSTRING_COMPLAINT,
        _SUBSTRING_SPAM,
        _SUBSTRING_PRIVACY,
        _SUBSTRING_OUTAGE,
        _SUBSTRING_INCIDENT,
        _SUBSTRING_PRAISE,
    )
)

CUES: tuple[Cue, ...] = tuple(
    _expand(_COMPLAINT, Family.COMPLAINT)
    + _expand(((w, ComplaintReason.SPAM, p) for w, p in _SPAM), Family.SPAM)
    + _expand(((w, ComplaintReason.PRIVACY, p) for w, p in _PRIVACY), Family.PRIVACY)
    + _expand(((w, _O, p) for w, p in _OUTAGE), Family.OUTAGE)
    + _expand(((w, None, p) for w, p in _INCIDENT), Family.INCIDENT)
    + _expand(((w, None, p) for w, p in _PRAISE), Family.PRAISE)
    + _expand(((w, None, p) for w, p in _SARCASM), Family.SARCASM)
    + _expand(((w, None, p) for w, p in _NEWS), Family.NEWS)
)

WORD = re.compile(r"[\w']+")
_DURATION = re.compile(
    r"\b(\d{1,3}|an?|one|two|three|four|five|six|several|few)\s*\+?\s*"
    r"(hours?|hrs?|minutes|mins|days|weeks|months)\b"
)
DURATION_CUE = Cue("waited hours/days", Family.COMPLAINT, 0.8, ComplaintReason.DELAY)

_EMOJI_CUES: tuple[Cue, ...] = (
    Cue("😡", Family.COMPLAINT, 1.2),
    Cue("🤬", Family.COMPLAINT, 1.3),
    Cue("😤", Family.COMPLAINT, 1.0),
    Cue("👎", Family.COMPLAINT, 1.0),
    Cue("🙄", Family.COMPLAINT, 0.8),
    Cue("😠", Family.COMPLAINT, 1.0),
    Cue("😍", Family.PRAISE, -0.6),
    Cue("❤", Family.PRAISE, -0.5),
    Cue("🙏", Family.PRAISE, -0.3),
    Cue("👏", Family.PRAISE, -0.4),
)


def _index(cues: Iterable[Cue]) -> dict[tuple[str, ...], list[Cue]]:
    index: dict[tuple[str, ...], list[Cue]] = {}
    for cue in cues:
        key = tuple(WORD.findall(cue.phrase))
        entries = index.setdefault(key, [])
        # A phrase listed twice in one family keeps its first (strongest) weight.
        if all(existing.family != cue.family for existing in entries):
            entries.append(cue)
    return index


_BY_TOKENS = _index(CUES)
# For each word a phrase can start with, the lengths of the phrases starting with it, longest
# first: only those slices of the text need looking up.
_LENGTHS: dict[str, tuple[int, ...]] = {}
for _key in _BY_TOKENS:
    _LENGTHS[_key[0]] = tuple(sorted({*_LENGTHS.get(_key[0], ()), len(_key)}, reverse=True))
_DURATION_HIT = CueHit(DURATION_CUE, -1, -1)
_BY_SUBSTRING: dict[str, list[Cue]] = {}
for _cue in SUBSTRING_CUES:
    _BY_SUBSTRING.setdefault(_cue.phrase, []).append(_cue)
# Longest first, so at any position the longest phrase wins ("不满意" is not "满意").
_SUBSTRINGS = re.compile(
    "|".join(re.escape(p) for p in sorted(_BY_SUBSTRING, key=lambda p: (-len(p), p)))
)
# Scripts whose cues are found as substrings.
_UNSPACED = re.compile(f"[{HAN_RANGE}{DEVANAGARI_RANGE}]")
_EMOJI_HITS = tuple(CueHit(cue, -1, -1) for cue in _EMOJI_CUES)
# Every unit `_DURATION` can match contains one of these, so without them it cannot match.
_DURATION_UNITS = ("hour", "hr", "min", "day", "week", "month")


def find_cues(lowered: str, tokens: list[str]) -> list[CueHit]:
    """Every cue phrase in `tokens` (lower-cased words of `lowered`), minus those inside longer
    hits of the same kind ("again" inside "down again" is not a second complaint cue)."""
    hits: list[CueHit] = []
    count = len(tokens)
    lengths_of = _LENGTHS.get
    by_tokens = _BY_TOKENS.get
    for i, token in enumerate(tokens):
        lengths = lengths_of(token)
        if lengths is None:
            continue
        for n in lengths:
            if n == 1:
                cues = by_tokens((token,))
            elif i + n <= count:
                cues = by_tokens(tuple(tokens[i : i + n]))
            else:
                continue
            if cues:
                hits += [CueHit(cue, i, i + n) for cue in cues]
    if len(hits) > 1:
        # Only a hit of two or more words can contain another.
        longer = [(_group(h.cue.family), h.start, h.end) for h in hits if h.end - h.start > 1]
        if longer:
            hits = [h for h in hits if not _inside_longer(h, longer)]
    if any(unit in lowered for unit in _DURATION_UNITS) and _DURATION.search(lowered):
        hits.append(_DURATION_HIT)
    if not lowered.isascii():
        hits.extend(hit for hit in _EMOJI_HITS if hit.cue.phrase in lowered)
        if _UNSPACED.search(lowered):
            hits += [
                CueHit(cue, -1, -1)
                for found in _SUBSTRINGS.finditer(lowered)
                for cue in _BY_SUBSTRING[found.group()]
            ]
    return hits


_DISSATISFACTION_GROUP = frozenset(
    {Family.COMPLAINT, Family.SPAM, Family.PRIVACY, Family.OUTAGE, Family.SARCASM}
)


def _group(family: Family) -> Family:
    return Family.COMPLAINT if family in _DISSATISFACTION_GROUP else family


def _inside_longer(hit: CueHit, longer: list[tuple[Family, int, int]]) -> bool:
    group, start, end = _group(hit.cue.family), hit.start, hit.end
    return any(
        other_group is group
        and other_start <= start
        and end <= other_end
        and other_end - other_start > end - start
        for other_group, other_start, other_end in longer
    )
