"""What an alert says, as data and as plain text; never a template.

Mention text is untrusted: it travels as JSON values (webhook), escaped text (Slack) or a plain
text body (email), so nothing an author writes can become markup, a mention of @channel, or
a template expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listener.incidents.types import incident_kind

if TYPE_CHECKING:
    from listener.store import Incident


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert for the responders' outbox, queued in the transaction that makes it true."""

    kind: str
    brand: str
    severity: str
    title: str
    body: dict[str, Any]
    dedupe_key: str


OPENED = "incident.opened"
ESCALATED = "incident.escalated"


def incident_body(
    incident: Incident,
    kind: str,
    public_url: str,
    *,
    previous_severity: str | None = None,
    held_replies: int | None = None,
) -> dict[str, Any]:
    """The alert payload: what, how big, since when, who amplifies, how it grew, where to look,
    and whether routine outreach for the brand is on hold (`held_replies`: how many replies
    the incident holds, None when it holds none back)."""
    kind_of = incident_kind(incident.type)
    on_hold = held_replies is not None
    return {
        "kind": kind,
        "incident_id": incident.id,
        "brand": incident.brand,
        "type": incident.type,
        "type_label": kind_of.label,
        "what_it_is": kind_of.meaning,
        "severity": incident.severity,
        "previous_severity": previous_severity,
        "title": incident.title,
        "summary": incident.summary,
        "themes": incident.themes,
        "mention_count": incident.mention_count,
        "total_reach": incident.total_reach,
        "first_mention_at": incident.first_mention_at.isoformat(),
        "opened_at": incident.opened_at.isoformat(),
        "top_authors": incident.top_authors[:5],
        "growth": incident.growth[-6:],
        "sources": incident.sources,
        "outreach_on_hold": on_hold,
        "held_replies": held_replies,
        "outreach": (
            f"Routine outreach for {incident.brand} is on hold: {held_replies} "
            f"repl{'y' if held_replies == 1 else 'ies'} held for the crisis team to release "
            "or cancel."
            if on_hold
            else None
        ),
        "url": f"{public_url.rstrip('/')}/incidents/{incident.id}",
    }


def headline(body: dict[str, Any], title: str, severity: str) -> str:
    kind = str(body.get("kind", ""))
    if kind == OPENED:
        return f"[{severity.upper()}] New incident: {title}"
    if kind == ESCALATED:
        return (
            f"[{severity.upper()}] Incident escalated from {body.get('previous_severity')}: {title}"
        )
    return f"[{severity.upper()}] {title}"


def _reach(author: dict[str, Any]) -> str:
    followers = author.get("followers")
    if followers is None or author.get("reach_known") is False or int(followers) < 0:
        return "reach unknown"
    return f"{int(followers):,} followers"


def plain_text(body: dict[str, Any], title: str, severity: str) -> str:
    """The alert for a person: headline, what it is, figures, amplifiers, growth, link."""
    lines = [headline(body, title, severity)]
    if "incident_id" in body:
        if body.get("what_it_is"):
            lines.append(f"{body.get('type_label') or body.get('type')}: {body['what_it_is']}")
        lines.append(
            f"{body.get('mention_count', 0)} mention(s) about {body.get('brand')} "
            f"({body.get('type')}), first seen {body.get('first_mention_at')}, "
            f"detected {body.get('opened_at')}."
        )
        authors = body.get("top_authors") or []
        if authors:
            lines.append(
                "Amplifying: " + ", ".join(f"{a.get('author')} ({_reach(a)})" for a in authors)
            )
        growth = body.get("growth") or []
        if growth:
            lines.append("How it grew:")
            for point in growth:
                themes = ", ".join(point.get("themes", [])[:3])
                lines.append(
                    f"  {point.get('at', '')[:16].replace('T', ' ')} {point.get('what')}: "
                    f"{point.get('mentions')} mention(s), {point.get('severity')}"
                    + (f" ({themes})" if themes else "")
                )
        if body.get("summary"):
            lines.append("")
            lines.append(str(body["summary"]))
        if body.get("outreach"):
            lines.append("")
            lines.append(str(body["outreach"]))
    elif body.get("text"):
        lines.append(str(body["text"]))
    if body.get("url"):
        lines.append("")
        lines.append(f"Open: {body['url']}")
    return "\n".join(lines)
