"""What kind of story an incident is, decided from its mentions together, phrase by phrase.

One word never types a story: "data" is mobile data to a phone network's customers, "down"
is how someone feels, "leak" is a plumber's daily work, "crash" a gamer's. Each type has
phrase cues (a few words together, or a word with the right company) with a weight, and a few
everyday phrases that cancel a cue ("my data is so slow", "feeling down", "let me down").
A mention's cues are evidence; an incident sums the evidence of its mentions, and its type is
the best-supported one when the support is clear (enough of it, well ahead of the next),
otherwise "other".

The type vocabulary lives here, apart from the scorer's per-mention categories: the scorer
says what one post is about, this says what a story is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum


class IncidentType(StrEnum):
    PRIVACY = "privacy/data breach"
    OUTAGE = "outage/service down"
    SPAM = "spam/abuse"
    CONDUCT = "customer treatment/conduct"
    SAFETY = "product safety/recall"
    PRICING = "pricing/billing"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def meaning(self) -> str:
        """What this type of incident is, in one plain sentence, for alerts."""
        return _MEANINGS[self]


_LABELS = {
    IncidentType.PRIVACY: "Data breach",
    IncidentType.OUTAGE: "Service outage",
    IncidentType.SPAM: "Spam or abuse",
    IncidentType.CONDUCT: "Customer treatment",
    IncidentType.SAFETY: "Product safety",
    IncidentType.PRICING: "Pricing or billing",
    IncidentType.OTHER: "Complaints",
}
_MEANINGS = {
    IncidentType.PRIVACY: "People say customers' personal data was leaked, exposed or misused.",
    IncidentType.OUTAGE: "People say the service is down or not working for many of them.",
    IncidentType.SPAM: "People report spam, scams or abuse sent in the brand's name.",
    IncidentType.CONDUCT: (
        "People object to how staff or security treated a customer (removal, force, "
        "discrimination, rudeness)."
    ),
    IncidentType.SAFETY: "People report a product that is unsafe, harmful, or recalled.",
    IncidentType.PRICING: "People object to prices, charges or bills.",
    IncidentType.OTHER: "A burst of complaints without one clear theme.",
}

# Earlier spellings of the types, as incidents saved before this vocabulary carry them.
LEGACY_TYPES = {
    "privacy/data": IncidentType.PRIVACY,
    "outage": IncidentType.OUTAGE,
    "service failure": IncidentType.OTHER,
}


def incident_kind(value: str) -> IncidentType:
    """The type saved on an incident, read back (older spellings included)."""
    try:
        return IncidentType(value)
    except ValueError:
        return LEGACY_TYPES.get(value, IncidentType.OTHER)


def _cue(pattern: str) -> re.Pattern[str]:
    # Matched against lower-cased text: IGNORECASE makes every one of these searches slower.
    return re.compile(pattern)


_PERSONAL = (
    r"(?:personal|customer|customers'?|user|users'?|private|card|credit card|bank|payment|"
    r"account|passport|medical|health)\s+(?:data|details|info|information|records|numbers?)"
    r"|passwords?|phone numbers?|home addresses?|addresses|emails? addresses|email addresses"
    r"|dates? of birth|social security|card numbers|bank details|my details|our details"
    r"|my (?:personal )?information|our information"
)
# (pattern, weight): the weight is how sure one such phrase makes us.
_CUES: dict[IncidentType, list[tuple[re.Pattern[str], float]]] = {
    IncidentType.PRIVACY: [
        (_cue(r"\bdata (?:breach|leak|leaked|exposed|hack|theft|stolen)"), 2.0),
        (
            _cue(
                r"\b(?:my|our|your|their|customers'?|users'?|personal)\s+data\s+"
                r"(?:was|were|has been|have been|got|is being|are being)\s+"
                r"(?:leaked|exposed|stolen|sold|hacked|breached|shared)"
            ),
            2.0,
        ),
        (
            _cue(
                r"\b(?:breach|leak|leaked|exposed|hacked|stolen|sold|selling|shared)\b[^.!?]{0,40}"
                rf"\b(?:{_PERSONAL})\b"
            ),
            2.0,
        ),
        (
            _cue(
                rf"\b(?:{_PERSONAL})\b[^.!?]{{0,40}}\b(?:leak|leaked|exposed|breach|breached|"
                r"hacked|stolen|sold|published|online for anyone|visible to)"
            ),
            2.0,
        ),
        (
            _cue(
                r"\bprivacy (?:breach|violation|scandal|nightmare)|\bgdpr\b|"
                r"\binformation commissioner|\bico\b (?:complaint|investigat)"
            ),
            1.5,
        ),
        (_cue(r"\b(?:was|were|been|got) hacked\b|\bhackers?\b"), 1.0),
        (_cue(r"\bidentity theft|\bdoxx?ed\b"), 1.5),
    ],
    IncidentType.OUTAGE: [
        (
            _cue(
                r"\b(?:is|are|was|went|still|all|goes|been)\s+(?:completely |totally )?down\b"
                r"(?! to earth)"
            ),
            1.0,
        ),
        (_cue(r"\b(?:outage|outages|blackout)\b"), 1.5),
        (_cue(r"\bno (?:signal|service|network|coverage|internet|connection)\b"), 1.0),
        (
            _cue(
                r"\b(?:app|website|site|network|service|servers?|system|payments?|checkout|login)"
                r"\s+(?:is |are |has |keeps )?(?:down|not working|offline|broken|crashed|"
                r"crashing|unavailable)"
            ),
            1.5,
        ),
        (_cue(r"\bcan'?t (?:log ?in|sign in|connect|make calls|access|pay|get online)"), 1.0),
        (_cue(r"\b(?:error|500|502|503)\b[^.!?]{0,20}\b(?:everywhere|for everyone|again)"), 0.5),
    ],
    IncidentType.SPAM: [
        (_cue(r"\b(?:spam|spamming|spammed|scam|scams|scammers?|phishing|fraudulent)\b"), 1.5),
        (_cue(r"\b(?:unsolicited|nuisance|cold) (?:calls?|texts?|messages?|emails?)"), 1.5),
        (_cue(r"\b(?:stop|keep) (?:texting|calling|emailing|messaging) me\b"), 1.0),
        (_cue(r"\b(?:harass|harassing|harassment|abusive messages?|trolling)\b"), 1.0),
    ],
    IncidentType.CONDUCT: [
        (
            _cue(
                r"\b(?:dragged|removed|thrown|kicked|forced|pulled|escorted|manhandled)\s+"
                r"(?:off|out|from)\b"
            ),
            2.0,
        ),
        (
            _cue(
                r"\b(?:staff|employee|employees|security|guards?|officers?|crew|manager|"
                r"police)\b[^.!?]{0,40}\b(?:assault\w*|attack\w*|beat|beaten|drag\w*|"
                r"shov\w*|push\w*|hit|punch\w*|abus\w*|humiliat\w*|rude|racis\w*|threat\w*)"
            ),
            2.0,
        ),
        (
            _cue(
                r"\b(?:racism|racist|racial profiling|discriminat\w+|sexist|homophobic|"
                r"mistreat\w*|manhandl\w*|brutal\w*|bloodied|injured passenger)\b"
            ),
            1.5,
        ),
        (_cue(r"\b(?:boycott\w*|#boycott\w*)\b"), 1.0),
        (_cue(r"\bhow (?:they|you) treat(?:ed)? (?:customers|passengers|people|him|her)"), 1.5),
        (
            _cue(
                r"\b(?:viral|the) video\b[^.!?]{0,40}\b(?:passenger|customer|man|woman|staff|"
                r"security)"
            ),
            1.0,
        ),
    ],
    IncidentType.SAFETY: [
        (_cue(r"\b(?:recall|recalled|recalling)\b"), 2.0),
        (
            _cue(
                r"\b(?:caught fire|catching fire|exploded|explode|explodes|overheat\w*|"
                r"burns? (?:hazard|risk)|choking hazard|fire hazard)\b"
            ),
            2.0,
        ),
        (
            _cue(
                r"\b(?:food poisoning|contaminat\w+|made (?:me|us|my \w+) (?:sick|ill)|"
                r"allergic reaction|hospitali[sz]ed)\b"
            ),
            2.0,
        ),
        (_cue(r"\b(?:unsafe|dangerous|safety (?:issue|concern|warning|defect))\b"), 1.0),
        (
            _cue(
                r"\b(?:glass|metal|plastic|insects?|mould|mold) (?:in|inside) (?:the |my |our )?"
                r"(?:food|drink|meal|bottle|can|product|sandwich|box)"
            ),
            2.0,
        ),
    ],
    IncidentType.PRICING: [
        (
            _cue(
                r"\b(?:overcharg\w+|double charg\w+|charged twice|hidden (?:fees?|charges?)|"
                r"price (?:hike|rise|increase|gouging)|rip-?off|extortionate)\b"
            ),
            1.5,
        ),
        (_cue(r"\b(?:my|the|this|huge|massive|wrong) (?:bill|invoice)\b"), 1.0),
        (
            _cue(
                r"\b(?:raised|raising|increase[sd]?|hiked|doubled) (?:the |their |our |my )?"
                r"(?:prices?|fees?|tariffs?|charges?)\b"
            ),
            1.5,
        ),
        (_cue(r"\brefund\w*\b[^.!?]{0,30}\b(?:refus\w+|denied|still waiting|never)"), 1.0),
    ],
}


# Words (or word beginnings) at least one of which, in each group, a text must contain for
# the cue at the same place in `_CUES` to be worth searching for: a set lookup is far cheaper
# than a regular expression, and most texts have none of them.
def _g(words: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """A group: whole words, and word beginnings (written with a trailing *) as " word" to
    look for in a text whose punctuation is spaces (a substring test in C, no regex)."""
    split = words.split()
    return (
        frozenset(w for w in split if not w.endswith("*")),
        tuple(" " + w[:-1] for w in split if w.endswith("*")),
    )


_Group = tuple[frozenset[str], tuple[str, ...]]
_ANCHORS: dict[IncidentType, list[list[_Group]]] = {
    IncidentType.PRIVACY: [
        [_g("data"), _g("breach leak leaked exposed hack theft stolen")],
        [_g("data"), _g("leaked exposed stolen sold hacked breached shared")],
        [_g("breach leak leaked exposed hacked stolen sold selling shared")],
        [
            _g("data details info information records number numbers password passwords "
               "addresses address birth security bank"),
            _g("leak leaked exposed breach breached hacked stolen sold published online visible"),
        ],
        [_g("privacy gdpr commissioner ico")],
        [_g("hacked hacker hackers")],
        [_g("identity doxxed doxed")],
    ],
    IncidentType.OUTAGE: [
        [_g("down")],
        [_g("outage outages blackout")],
        [_g("signal service network coverage internet connection")],
        [
            _g("app website site network service server servers system payment payments "
               "checkout login"),
            _g("down working offline broken crashed crashing unavailable"),
        ],
        [_g("can't cant")],
        [_g("everywhere everyone again")],
    ],
    IncidentType.SPAM: [
        [_g("spam spamming spammed scam scams scammer scammers phishing fraudulent")],
        [_g("unsolicited nuisance cold")],
        [_g("texting calling emailing messaging")],
        [_g("harass* harassing harassment abusive trolling")],
    ],
    IncidentType.CONDUCT: [
        [_g("dragged removed thrown kicked forced pulled escorted manhandled")],
        [
            _g("staff employee employees security guard guards officer officers crew manager "
               "police"),
            _g("assault* attack* beat* drag* shov* push* hit punch* abus* humiliat* rude "
               "racis* threat*"),
        ],
        [_g("racis* racial discriminat* sexist homophobic mistreat* manhandl* brutal* bloodied "
            "injured")],
        [_g("boycott*")],
        [_g("how"), _g("treat treated")],
        [_g("video")],
    ],
    IncidentType.SAFETY: [
        [_g("recall recalled recalling")],
        [_g("caught catching explod* overheat* burn burns choking fire")],
        [_g("food contaminat* made allergic hospitali*")],
        [_g("unsafe dangerous safety")],
        [_g("glass metal plastic insect insects mould mold")],
    ],
    IncidentType.PRICING: [
        [_g("overcharg* double charged hidden price* rip extortionate")],
        [_g("bill invoice")],
        [_g("raised raising increase increased increases hiked doubled")],
        [_g("refund*")],
    ],
}  # fmt: skip
_SPACES = str.maketrans({c: " " for c in '!"#$%&()*+,./:;<=>?@[\\]^_`{|}~-\n\t\r'})


# Everyday phrases that look like a cue but are not one: removed from the text first.
_NOT_CUES = _cue(
    r"\b(?:mobile|4g|5g|roaming|more|extra|unlimited|no)\s+data\b"
    r"|\b(?:my|your|our|the)\s+data\s+(?:plan|allowance|bundle|speeds?|signal|"
    r"connection|usage|limit|cap|roaming|package|add-?on)"
    r"|\bdata (?:plan|allowance|bundle|speeds?|usage|limit|cap|roaming|package|add-?on|signal)"
    r"|\b(?:feel|feeling|felt|so|bit|little|really) down\b|\blet (?:me|us|you|them) down\b"
    r"|\bdown to earth\b|\bcalm down\b|\bslow(?:ed)? down\b|\bdown the (?:road|street)\b"
    r"|\bwater leak\w*|\bleak(?:ing|y|s)? (?:tap|taps|pipe|pipes|roof|boiler|radiator|toilet)"
    r"|\b(?:pipe|tap|roof|boiler|radiator|toilet)s? (?:is |are |was )?leak\w*"
)


def _has(words: frozenset[str], padded: str, group: _Group) -> bool:
    exact, prefixes = group
    if not words.isdisjoint(exact):
        return True
    return any(prefix in padded for prefix in prefixes)


def mention_cues(text: str) -> dict[IncidentType, float]:
    """Evidence for each type in one mention's text (types with none are absent).

    Within a mention a type counts once, at its strongest cue: repeating "down down down"
    in one post is not three posts' worth of evidence.
    """
    if not text:
        return {}
    lower = text.lower()
    padded = " " + lower.translate(_SPACES)
    words = frozenset(padded.split())
    cleaned: str | None = None
    found: dict[IncidentType, float] = {}
    for kind, cues in _CUES.items():
        best = 0.0
        for (pattern, weight), groups in zip(cues, _ANCHORS[kind], strict=True):
            if weight <= best or not all(_has(words, padded, g) for g in groups):
                continue
            if cleaned is None:
                cleaned = _NOT_CUES.sub(" ", lower)
            if pattern.search(cleaned):
                best = weight
        if best:
            found[kind] = best
    return found


# A type needs this much summed evidence, and this lead over the runner-up, to name a story.
MIN_EVIDENCE = 1.5
MIN_LEAD = 1.25


def story_type(evidence: Mapping[str, float], mentions: int) -> IncidentType:
    """The story's type from its mentions' summed cues; "other" when the evidence is thin.

    Thin is: less than `MIN_EVIDENCE` in all, or under one cue in twelve mentions (a big story
    in which two posts say "outage" is not an outage), or less than `MIN_LEAD` times the
    runner-up when two types compete. Ties are broken by name, so the answer never depends
    on the order mentions came in.
    """
    ranked = sorted(evidence.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        return IncidentType.OTHER
    name, best = ranked[0]
    if best < MIN_EVIDENCE or best < mentions / 12.0:
        return IncidentType.OTHER
    if len(ranked) > 1 and best < MIN_LEAD * ranked[1][1]:
        return IncidentType.OTHER
    try:
        return IncidentType(name)
    except ValueError:
        return LEGACY_TYPES.get(name, IncidentType.OTHER)


def dominant_cue(cues: Mapping[IncidentType, float]) -> IncidentType | None:
    """The mention's own strongest type, when it has a clear one."""
    if not cues:
        return None
    ranked = sorted(cues.items(), key=lambda kv: (-kv[1], kv[0].value))
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]
