"""Crisis mode: when an incident holds its authors' replies back from the routine queue.

During an incident, outreach speaks once, with the right approval: the one-reply-per-angry-
mention routine stops. An incident at or above `outreach.crisis_severity` holds the reply
drafts of its mentions (status `held`, under the incident, with the reason); a person with the
crisis role releases them to the queue or cancels them in bulk. Pure: the tracker and the store
ask these functions, and the store applies the answer in the detection step's transaction.

`incident.outreach_hold` is one of:

- `""`: replies go to the queue as usual (below the crisis severity, or crisis mode off);
- `auto`: held, because the incident reached the crisis severity;
- `on`: held, because a person held it (at any severity);
- `released`: a person released it; it stays released, whatever the severity, until a person
  holds it again.
"""

from __future__ import annotations

from enum import StrEnum

from listener.incidents.model import IncidentStatus, Severity
from listener.incidents.types import incident_kind

__all__ = [
    "CRISIS_OFF",
    "OutreachHold",
    "hold_reason",
    "holds_outreach",
    "reaches_crisis",
    "rule_hold",
]

CRISIS_OFF = "off"
_ACTIVE = (IncidentStatus.OPEN.value, IncidentStatus.ACKNOWLEDGED.value)


class OutreachHold(StrEnum):
    NONE = ""
    AUTO = "auto"
    ON = "on"
    RELEASED = "released"


def reaches_crisis(severity: str, crisis_severity: str) -> bool:
    """Is `severity` at or above the crisis severity (never when crisis mode is `off`)?"""
    if crisis_severity == CRISIS_OFF:
        return False
    return Severity(severity).level >= Severity(crisis_severity).level


def holds_outreach(outreach_hold: str, status: str) -> bool:
    """Does an incident in this state hold its authors' replies now? Only while it is active:
    a resolved or closed incident holds nothing new (what it held waits for a person)."""
    return status in _ACTIVE and outreach_hold in (OutreachHold.AUTO, OutreachHold.ON)


def rule_hold(outreach_hold: str, severity: str, crisis_severity: str) -> str:
    """The hold after the severity rule has looked: an incident nobody has held or released
    is held once it reaches the crisis severity; a person's choice is left as it is."""
    if outreach_hold == OutreachHold.NONE and reaches_crisis(severity, crisis_severity):
        return OutreachHold.AUTO.value
    return outreach_hold


def hold_reason(incident_id: int, incident_type: str, brand: str, severity: str) -> str:
    """What a held draft says about why it waits, e.g.
    `held: incident #12 (Data breach at Voxa, high)`."""
    label = incident_kind(incident_type).label
    return f"held: incident #{incident_id} ({label} at {brand}, {severity})"
