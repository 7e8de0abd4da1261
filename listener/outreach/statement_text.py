"""Write an incident's holding statement, and the crisis reply that points to it, from the
Jinja2 templates `outreach/statement.txt.j2` and `outreach/statement_reply.txt.j2`.

A brand may have its own statement, `outreach/statement.<brand-slug>.txt.j2` (the slug of
"Nimbus Mobile" is `nimbus-mobile`); a brand whose `language` is not English uses
`outreach/<lang>/…` when that exists. The override folder (`outreach.templates_dir`) wins
over the built-in files, as for replies.

What a statement may say is what listener knows for certain: the incident's type and when it
started. No mention text ever reaches these templates, as a value or otherwise: it is hostile
input, and a holding statement does not repeat or speculate. Every value is passed as data,
never compiled as template source, and templates run in the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from listener.domain import CHANNEL_LIMITS, Channel
from listener.errors import NotAllowed, SettingsError
from listener.incidents.types import IncidentType, incident_kind
from listener.outreach.review import names_brand
from listener.outreach.templates import template_loader
from listener.settings import BrandSettings

__all__ = ["ReplyContext", "StatementContext", "StatementWriter", "brand_slug"]

BASE_LANGUAGE = "en"

# What we know, in words a brand can say in public without repeating anyone's post.
_TOPICS = {
    IncidentType.PRIVACY: "reports that customers' personal data may have been exposed",
    IncidentType.OUTAGE: "reports that our service is not working for some customers",
    IncidentType.SPAM: "reports of messages sent in our name that did not come from us",
    IncidentType.CONDUCT: "concerns about how a customer was treated",
    IncidentType.SAFETY: "concerns about the safety of one of our products",
    IncidentType.PRICING: "concerns about charges and bills",
    IncidentType.OTHER: "concerns raised by customers",
}


def brand_slug(name: str) -> str:
    """ "Nimbus Mobile" → "nimbus-mobile": the part of a brand's own template's name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "brand"


@dataclass(frozen=True, slots=True)
class StatementContext:
    """What a statement template may use, as `c`."""

    brand: str
    channel: str
    type: str
    type_label: str
    topic: str
    started: str  # "9 March 2026, 09:40 UTC"
    updates_url: str
    support_url: str
    signature: str
    short: bool


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What the crisis reply template may use, as `c`."""

    brand: str
    author: str
    channel: str
    statement_url: str
    updates_url: str
    signature: str
    short: bool


class StatementWriter:
    """Renders statements and crisis replies; templates are loaded and checked once."""

    def __init__(self, overrides: Path | None) -> None:
        self._env = SandboxedEnvironment(
            loader=template_loader(overrides),
            auto_reload=False,
            undefined=StrictUndefined,
            autoescape=False,  # plain text; desk pages escape it when they show it
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._check()

    def _names(self, base: str, brand: BrandSettings) -> list[str]:
        slug = brand_slug(brand.name)
        folders = [f"outreach/{brand.language}/", "outreach/"]
        if brand.language == BASE_LANGUAGE:
            folders = ["outreach/"]
        return [f"{f}{base}.{slug}.txt.j2" for f in folders] + [
            f"{f}{base}.txt.j2" for f in folders
        ]

    def _check(self) -> None:
        """Render every statement and crisis reply, in every language that has its own, so a
        template that cannot render or does not name the brand stops start-up, not a crisis."""
        at = datetime(2026, 1, 1)
        for language in self._languages():
            sample = BrandSettings(
                name="Sample",
                terms=["Sample"],
                language=language,
                updates_url="https://example.org/status",
            )
            for channel in Channel:
                for kind in IncidentType:
                    self.statement(sample, kind.value, at, channel)
                self.reply(sample, "@someone", channel, "https://example.org/s/1")

    def _languages(self) -> list[str]:
        """English, and each language with a statement or crisis reply of its own."""
        found = {
            name.split("/")[1]
            for name in self._env.list_templates()
            if name.count("/") == 2
            and name.startswith("outreach/")
            and name.rsplit("/", 1)[1].startswith("statement")
        }
        return [BASE_LANGUAGE, *sorted(found - {BASE_LANGUAGE})]

    def _render(
        self, base: str, brand: BrandSettings, context: object, channel: Channel
    ) -> tuple[str, str]:
        """(template name, text) within the channel's limit: full, else short, else cut."""
        template = self._env.select_template(self._names(base, brand))
        name = template.name or base
        limit = CHANNEL_LIMITS[channel]
        text = ""
        for short in (False, True):
            try:
                raw = template.render(c=_with(context, short))
            except Exception as exc:
                raise SettingsError(f"template {name} cannot be rendered: {exc}") from None
            text = "\n".join(line.rstrip() for line in raw.strip().splitlines())
            if len(text) <= limit:
                break
        else:
            text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
        if not names_brand(text, brand.reply_names):
            raise SettingsError(
                f"template {name} does not name the brand ({brand.speaks_as}) in its "
                f"{channel.value} form: every message must say who is writing ({{{{ c.brand }}}})"
            )
        return name.removeprefix("outreach/").removesuffix(".txt.j2"), text

    def statement(
        self, brand: BrandSettings, incident_type: str, started_at: datetime, channel: Channel
    ) -> tuple[str, str]:
        """(template, text) of the holding statement for an incident of this type."""
        kind = incident_kind(incident_type)
        context = StatementContext(
            brand=brand.speaks_as,
            channel=channel.value,
            type=kind.value,
            type_label=kind.label,
            topic=_TOPICS[kind],
            started=f"{started_at:%-d %B %Y, %H:%M} UTC",
            updates_url=brand.updates_url,
            support_url=brand.support_url,
            signature=brand.signature,
            short=False,
        )
        return self._render("statement", brand, context, channel)

    def reply(
        self, brand: BrandSettings, author: str, channel: Channel, statement_url: str
    ) -> tuple[str, str]:
        """(template, text) of a crisis reply to `author` pointing to the statement."""
        link = statement_url or brand.updates_url
        if not link:
            raise NotAllowed(
                "a crisis reply points to the holding statement: post one first (or set the "
                f"brand's updates_url for {brand.name})"
            )
        context = ReplyContext(
            brand=brand.speaks_as,
            author=author,
            channel=channel.value,
            statement_url=link,
            updates_url=brand.updates_url,
            signature=brand.signature,
            short=False,
        )
        return self._render("statement_reply", brand, context, channel)


def _with(context: object, short: bool) -> object:
    from dataclasses import replace

    return replace(context, short=short)  # type: ignore[type-var]
