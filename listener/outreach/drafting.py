"""Turn a scored mention into a reply draft from the Jinja2 templates in `templates/outreach/`.

Mention text and author names are data: they are passed to templates as values and are never
compiled as template source, so `{{ 7*7 }}` in a tweet stays the five characters it was.
Templates run in Jinja2's sandbox with undefined names as errors, and are all test-rendered
at start-up so a broken template stops the service before it drafts anything.

Replies are written in the mention's language: English templates are `outreach/<name>.txt.j2`,
another language's are `outreach/<code>/<name>.txt.j2` ("zh", "es", ...). A mention whose
language is unknown is answered in its brand's `language`. When the language has no template
for the reply, the draft is queued empty with a hold reason ("no Chinese template: write the
reply by hand"), so a person writes it instead of a reply going out in another language.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass, fields
from itertools import product
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from listener.domain import CHANNEL_LIMITS, Category, Channel, Mention, PlannedDraft, Score
from listener.errors import SettingsError
from listener.outreach.news import is_news_article
from listener.outreach.review import names_brand
from listener.outreach.templates import template_loader
from listener.scoring.language import LANGUAGE_NAMES, normalise_language
from listener.settings import BrandSettings, OutreachSettings

log = logging.getLogger("listener.outreach.drafting")

TEMPLATE_FOR: dict[Category, str] = {
    Category.COMPLAINT: "complaint",
    Category.SPAM_COMPLAINT: "spam_complaint",
    Category.PRIVACY: "privacy",
    Category.OUTAGE: "outage",
    Category.PRAISE: "praise",
    # An unhappy question ("why is roaming not working?") wants help, not an apology.
    Category.QUESTION: "question",
}
# A dissatisfied mention of another category still gets the general complaint reply.
FALLBACK_TEMPLATE = "complaint"
# The language of the templates directly in outreach/; others live in outreach/<code>/.
BASE_LANGUAGE = "en"


def template_name(name: str, lang: str) -> str:
    """The name a draft records for `name` in `lang`: "complaint", or "zh/complaint"."""
    return name if lang == BASE_LANGUAGE else f"{lang}/{name}"


def channel_for(mention: Mention) -> Channel:
    """Reply where the customer spoke, when we can; otherwise a person posts it by hand."""
    if mention.source_kind == "x" and mention.external_id:
        return Channel.X
    if mention.author_email:
        return Channel.EMAIL
    return Channel.MANUAL


def priority(score: Score, mention: Mention) -> float:
    """Most urgent first: unhappy x reach x risk, so a loud, risky complaint tops the queue."""
    followers = max(mention.author_followers or 0, 0)
    reach = 1.0 + math.log10(1 + followers) / 2.0
    if mention.author_verified:
        reach += 0.5
    return round(score.dissatisfaction * reach * (1.0 + score.incident_risk), 6)


@dataclass(frozen=True, slots=True)
class DraftContext:
    """What a template may use; nothing here is ever treated as template source."""

    brand: str
    author: str
    author_name: str
    channel: str
    category: str
    reason: str
    support_url: str
    support_email: str
    signature: str
    title: str
    url: str
    short: bool


_CONTEXT_FIELDS = frozenset(f.name for f in fields(DraftContext))


def _described(error: Exception) -> str:
    if isinstance(error, TemplateError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class DraftSandbox(SandboxedEnvironment):
    """The sandbox, minus its per-lookup safety checks for `c.<field>` of a `DraftContext`.

    Those fields are plain strings and booleans we put there, so there is nothing to guard;
    the checks were a third of rendering time. Anything else (a method of a string, an
    attribute of anything else) still goes through the sandbox's checks.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is DraftContext and attribute in _CONTEXT_FIELDS:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A template's globals as one plain dict, not a ChainMap over the environment's.

        Every render copies them into a new context, and a ChainMap is copied key by key in
        Python: a third of a draft's rendering. The environment's globals are set once, before
        any template is loaded, so there are no later changes for a ChainMap to reflect.
        """
        return {**self.globals, **(d or {})}


class Drafter:
    """Renders replies; one instance per service, templates loaded and checked once."""

    def __init__(
        self,
        overrides: Path | None,
        settings: OutreachSettings,
        *,
        news_domains: Collection[str] = (),
    ) -> None:
        """`overrides`: the folder whose templates replace the built-in ones of the same name
        (`outreach.templates_dir`), or None for the built-in templates alone; `news_domains`:
        sites besides the well-known ones whose stories get no reply (`is_news_article`)."""
        self.settings = settings
        self.news_domains = frozenset(news_domains)
        self._env = DraftSandbox(
            loader=template_loader(overrides),
            # Templates are read and checked once at start-up; an edit takes a restart (not a
            # file-system check on every draft and every include).
            auto_reload=False,
            # Never evicted (there are a handful), so a plain dict: the default LRU cache takes
            # a lock on every lookup, and each draft looks up its template and its layout.
            cache_size=-1,
            undefined=StrictUndefined,
            autoescape=False,  # plain-text replies; HTML pages use their own autoescaping env
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        # (language, name) of every reply template there is, built-in or override, found once.
        self._available: set[tuple[str, str]] = set()
        for path in self._env.list_templates(extensions=["j2"]):
            parts = path.split("/")
            if parts[0] != "outreach" or not parts[-1].endswith(".txt.j2"):
                continue
            name = parts[-1][: -len(".txt.j2")]
            if len(parts) == 2:
                self._available.add((BASE_LANGUAGE, name))
            elif len(parts) == 3 and normalise_language(parts[1]) == parts[1]:
                self._available.add((parts[1], name))
        self._check_templates()

    @property
    def languages(self) -> list[str]:
        """The languages that have at least one reply template."""
        return sorted({lang for lang, name in self._available if not name.startswith("_")})

    def _check_templates(self) -> None:
        sample = BrandSettings(name="Sample", terms=["Sample"], support_url="https://example.org")
        names = set(TEMPLATE_FOR.values())
        for lang, base in sorted(self._available):
            if base not in names:
                continue  # a layout or include, checked through the templates using it
            name = template_name(base, lang)
            for channel, short in product(Channel, (False, True)):
                context = self._context(
                    sample, Mention("s", "1", "t"), Category.COMPLAINT, None, channel, short=short
                )
                try:
                    text = self._render(name, context)
                except Exception as exc:  # a template error, or what its own expression raised
                    raise SettingsError(
                        f"template outreach/{name}.txt.j2 cannot be rendered: {_described(exc)}"
                    ) from None
                if not names_brand(text, sample.reply_names):
                    raise SettingsError(
                        f"template outreach/{name}.txt.j2 does not name the brand in its "
                        f"{'short' if short else 'full'} {channel.value} form: every reply must "
                        "say who is writing ({{ c.brand }})"
                    )

    def _context(
        self,
        brand: BrandSettings,
        mention: Mention,
        category: Category,
        reason: str | None,
        channel: Channel,
        *,
        short: bool,
    ) -> DraftContext:
        return DraftContext(
            brand=brand.speaks_as,
            author=mention.author,
            author_name=mention.author_name or mention.author,
            channel=channel.value,
            category=category.value,
            reason=reason or "",
            support_url=brand.support_url,
            support_email=brand.support_email,
            signature=brand.signature,
            title=mention.title,
            url=mention.url,
            short=short,
        )

    def _render(self, name: str, context: DraftContext) -> str:
        template = self._env.get_template(f"outreach/{name}.txt.j2")
        text = template.render(c=context)
        return "\n".join(line.rstrip() for line in text.strip().splitlines())

    def template_for(self, name: str, mention: Mention, brand: BrandSettings) -> tuple[str, str]:
        """The language to reply in and the template to use in it ("" when there is none)."""
        lang = normalise_language(mention.lang) or brand.language
        return lang, template_name(name, lang) if (lang, name) in self._available else ""

    def plan(self, mention: Mention, brand: BrandSettings, score: Score) -> PlannedDraft | None:
        """The reply to queue for this mention, or None when it needs none."""
        if not self.settings.enabled:
            return None
        wants_thanks = score.category is Category.PRAISE and self.settings.thank_praise
        if not (score.dissatisfied or wants_thanks):
            return None
        if score.dissatisfaction < self.settings.min_dissatisfaction and not wants_thanks:
            return None
        if score.category is Category.NEWS and not mention.author:
            return None
        if not self.settings.news_as_customers and is_news_article(
            mention, score, self.news_domains
        ):
            return None
        base = TEMPLATE_FOR.get(score.category, FALLBACK_TEMPLATE)
        channel = channel_for(mention)
        recipient = (
            mention.author_email
            if channel is Channel.EMAIL
            else mention.external_id
            if channel is Channel.X
            else mention.url
        )
        lang, name = self.template_for(base, mention, brand)
        if not name:
            language = LANGUAGE_NAMES.get(lang, f"'{lang}'")
            return PlannedDraft(
                channel=channel.value,
                template=template_name(base, lang),
                text="",
                recipient=recipient,
                priority=priority(score, mention),
                hold_reason=(
                    f"no {language} {base.replace('_', ' ')} template: write the reply by hand "
                    f"(or add outreach/{lang}/{base}.txt.j2)"
                ),
            )
        try:
            text = self.render(name, mention, brand, score, channel)
        except Exception as exc:
            # Checked at start-up with sample values; an edited template can still fail on
            # some mention's own (a division by a length that is zero). That mention is stored
            # without a draft, and the batch goes on.
            log.error(
                "no draft for mention %s/%s: template outreach/%s.txt.j2 failed: %s",
                mention.source,
                mention.external_id,
                name,
                _described(exc),
                extra={"source": mention.source, "brand": brand.name},
            )
            return None
        return PlannedDraft(
            channel=channel.value,
            template=name,
            text=text,
            recipient=recipient,
            priority=priority(score, mention),
        )

    def render(
        self, name: str, mention: Mention, brand: BrandSettings, score: Score, channel: Channel
    ) -> str:
        """Render within the channel's limit: the short form first, then cut at a word."""
        limit = CHANNEL_LIMITS[channel]
        reason = score.reason.value if score.reason else None
        text = self._render(
            name, self._context(brand, mention, score.category, reason, channel, short=False)
        )
        if len(text) <= limit:
            return text
        text = self._render(
            name, self._context(brand, mention, score.category, reason, channel, short=True)
        )
        if len(text) <= limit:
            return text
        cut = text[: limit - 1].rsplit(" ", 1)[0]
        return cut + "…"
