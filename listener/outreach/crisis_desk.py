"""Crisis mode's actions, for the desk, the JSON API and the shell alike: draft, edit, approve,
cancel and record holding statements, and draft crisis replies to amplifiers a person picks.

The rules are pure (`listener.outreach.crisis`, `review.check_text`); the store applies them
under its lock and audits each step; the texts come from `statement_text`. Posting is the
dispatcher's (`Dispatcher.post_statement`), claimed before the platform is called.
"""

from __future__ import annotations

from collections.abc import Sequence

from listener.clock import Clock
from listener.domain import Channel, Draft, PlannedDraft, Statement, StatementStatus, StoredMention
from listener.errors import NotAllowed, SettingsError
from listener.outreach.crisis import StatementAction, approval_note
from listener.outreach.drafting import channel_for
from listener.outreach.review import check_text
from listener.outreach.statement_text import StatementWriter
from listener.settings import BrandSettings, Settings
from listener.store import Incident, Store

__all__ = ["CrisisDesk"]

# Crisis replies top the queue: a person picked them during an incident.
CRISIS_PRIORITY = 100.0


class CrisisDesk:
    """One per process; the statement templates are loaded and checked on first use."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._writer: StatementWriter | None = None

    @property
    def writer(self) -> StatementWriter:
        if self._writer is None:
            self._writer = StatementWriter(self.settings.templates_override())
        return self._writer

    @property
    def four_eyes(self) -> bool:
        return self.settings.outreach.crisis_four_eyes

    def _brand(self, name: str) -> BrandSettings:
        try:
            return self.settings.brand(name)
        except SettingsError:
            raise NotAllowed(f"the brand {name!r} is not in the settings any more") from None

    def note(self, statement: Statement) -> str:
        """ "approved by ann; needs a second crisis approver", for the desk and the shell."""
        return approval_note(
            statement.first_approved_by, statement.approved_by, four_eyes=self.four_eyes
        )

    def as_dict(self, statement: Statement) -> dict[str, object]:
        return {**statement.as_dict(), "approvals": self.note(statement)}

    # -- statements --------------------------------------------------------------------------

    def statements(self, incident_id: int | None = None) -> list[Statement]:
        return self.store.statements.find(incident_id)

    def draft(self, incident_id: int, channel: Channel, *, actor: str) -> Statement:
        """Draft the incident's holding statement on `channel` from the brand's template."""

        def recipients(incident: Incident) -> list[str]:
            if channel is not Channel.EMAIL:
                return []
            press = self._brand(incident.brand).press_list
            if not press:
                raise NotAllowed(
                    f"{incident.brand} has no press list: set press_list in its [[brands]] "
                    "settings to send a statement by email"
                )
            return list(press)

        def render(incident: Incident) -> tuple[str, str]:
            brand = self._brand(incident.brand)
            return self.writer.statement(brand, incident.type, incident.first_mention_at, channel)

        return self.store.statements.draft(
            incident_id,
            channel,
            render,
            recipients=recipients,
            actor=actor,
            at=self.clock.now(),
        )

    def edit(self, statement_id: int, text: str, *, actor: str) -> Statement:
        """New text by a person; it must fit the channel and name the brand. Clears approvals."""
        statement = self.store.statements.get(statement_id)
        text = text.replace("\r\n", "\n").strip()
        check_text(text, statement.channel, self._brand(statement.brand).reply_names)
        return self._act(statement_id, StatementAction.EDIT, actor=actor, text=text)

    def redraft(self, statement_id: int, *, actor: str) -> Statement:
        """The template's text again (a statement not posted); clears approvals."""
        statement = self.store.statements.get(statement_id)
        channel = statement.channel

        def render(incident: Incident) -> tuple[str, str]:
            brand = self._brand(incident.brand)
            return self.writer.statement(brand, incident.type, incident.first_mention_at, channel)

        return self.store.statements.act(
            statement_id,
            StatementAction.REDRAFT,
            actor=actor,
            role=None,
            four_eyes=self.four_eyes,
            at=self.clock.now(),
            render=render,
        )

    def approve(self, statement_id: int, *, actor: str, role: str | None) -> Statement:
        """One crisis approval (the first of two under crisis four eyes)."""
        return self._act(statement_id, StatementAction.APPROVE, actor=actor, role=role)

    def cancel(self, statement_id: int, *, actor: str) -> Statement:
        return self._act(statement_id, StatementAction.CANCEL, actor=actor)

    def posted(self, statement_id: int, url: str, *, actor: str) -> Statement:
        """A person posted it (manual), or checked that a doubtful post is up: where it is."""
        url = url.strip()
        if not url.startswith(("https://", "http://")):
            raise NotAllowed("give the link where the statement can be read (http or https)")
        return self._act(statement_id, StatementAction.POSTED, actor=actor, url=url)

    def _act(
        self,
        statement_id: int,
        action: StatementAction,
        *,
        actor: str,
        role: str | None = None,
        text: str | None = None,
        url: str = "",
    ) -> Statement:
        return self.store.statements.act(
            statement_id,
            action,
            actor=actor,
            role=role,
            four_eyes=self.four_eyes,
            at=self.clock.now(),
            text=text,
            url=url,
        )

    # -- crisis replies ----------------------------------------------------------------------

    def crisis_replies(self, incident_id: int) -> list[Draft]:
        return self.store.statements.crisis_replies(incident_id)

    def reply_to(self, incident_id: int, authors: Sequence[str], *, actor: str) -> list[Draft]:
        """Draft a short reply pointing to the statement for each named amplifier, within
        `outreach.crisis_replies_max` per incident. They are crisis drafts: the queue shows
        them, the crisis role approves them, the dispatcher sends them with every guard."""

        def plan(
            incident: Incident, stored: StoredMention, statements: list[Statement]
        ) -> PlannedDraft:
            brand = self._brand(incident.brand)
            mention = stored.mention
            channel = channel_for(mention)
            recipient = (
                mention.author_email
                if channel is Channel.EMAIL
                else mention.external_id
                if channel is Channel.X
                else mention.url
            )
            template, text = self.writer.reply(
                brand, mention.author, channel, statement_link(statements)
            )
            return PlannedDraft(
                channel=channel.value,
                template=template,
                text=text,
                recipient=recipient,
                priority=CRISIS_PRIORITY,
            )

        return self.store.statements.add_crisis_replies(
            incident_id,
            authors,
            plan,
            max_replies=self.settings.outreach.crisis_replies_max,
            actor=actor,
            at=self.clock.now(),
        )


def statement_link(statements: Sequence[Statement]) -> str:
    """Where a posted statement can be read: the X post first, then one posted by hand."""
    posted = [s for s in statements if s.status is StatementStatus.POSTED and s.url]
    posted.sort(key=lambda s: (s.channel is not Channel.X, s.id))
    return posted[0].url if posted else ""
