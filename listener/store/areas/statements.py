"""Crisis mode (`store.statements`): an incident's holding statements (one per channel), their
approvals and outbox, and the few crisis replies a person picks for its amplifiers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from listener.domain import Channel, Draft, PlannedDraft, Statement, StoredMention
from listener.errors import NotAllowed
from listener.outreach.crisis import StatementAction
from listener.store import incidents as incident_rows
from listener.store import statements as q
from listener.store.areas.base import Area
from listener.store.areas.outreach import StuckSend
from listener.store.incidents import Incident

__all__ = ["Statements"]

# (template name, text) of a statement for an incident, rendered by the caller's writer.
RenderStatement = Callable[[Incident], tuple[str, str]]
# The crisis reply to one amplifier's mention, given the incident's statements.
PlanReply = Callable[[Incident, StoredMention, list[Statement]], PlannedDraft]


class Statements(Area):
    def get(self, statement_id: int) -> Statement:
        with self._store._read() as conn:
            return q.get_statement(conn, statement_id)

    def find(self, incident_id: int | None = None) -> list[Statement]:
        """Statements, oldest first; of one incident when given."""
        with self._store._read() as conn:
            return q.list_statements(conn, incident_id)

    def draft(
        self,
        incident_id: int,
        channel: Channel,
        render: RenderStatement,
        *,
        recipients: Callable[[Incident], Sequence[str]],
        actor: str,
        at: datetime,
    ) -> Statement:
        """Draft the incident's statement on `channel` (refused when one is live there)."""
        with self._store._write() as conn:
            incident = incident_rows.get(conn, incident_id)
            template, text = render(incident)
            return q.insert_statement(
                conn,
                incident_id=incident_id,
                brand=incident.brand,
                channel=channel,
                template=template,
                text=text,
                recipients=recipients(incident),
                actor=actor,
                at=at,
            )

    def act(
        self,
        statement_id: int,
        action: StatementAction,
        *,
        actor: str,
        role: str | None,
        four_eyes: bool,
        at: datetime,
        text: str | None = None,
        url: str = "",
        render: RenderStatement | None = None,
    ) -> Statement:
        """Edit, approve, cancel, record as posted, or (with `render`) redraft a statement."""
        with self._store._write() as conn:
            if action is StatementAction.REDRAFT:
                if render is None:
                    raise ValueError("a redraft needs the statement writer")
                statement = q.get_statement(conn, statement_id)
                _, text = render(incident_rows.get(conn, statement.incident_id))
            return q.apply_statement_action(
                conn,
                statement_id,
                action,
                actor=actor,
                role=role,
                four_eyes=four_eyes,
                at=at,
                text=text,
                url=url,
            )

    # -- the statement outbox ----------------------------------------------------------------

    def due(self, *, now: datetime, limit: int = 20) -> list[int]:
        with self._store._read() as conn:
            return q.due_statements(conn, now=now, limit=limit)

    def claim(self, statement_id: int, *, instance: str, at: datetime) -> Statement | None:
        """approved → sending, COMMITTED before returning: only then may the platform hear of
        it. None when it is not approved any more (another dispatcher, a person)."""
        with self._store._write() as conn:
            if not q.claim_statement(conn, statement_id, instance=instance, at=at):
                return None
            return q.get_statement(conn, statement_id)

    def mark_posted(
        self, statement_id: int, *, platform_id: str, url: str, actor: str, at: datetime
    ) -> bool:
        with self._store._write() as conn:
            return q.mark_posted(
                conn,
                statement_id,
                platform_id=platform_id,
                url=url,
                actor=actor,
                at=at,
                claimed_by=actor,
            )

    def mark_failed(
        self, statement_id: int, *, error: str, needs_check: bool, actor: str, at: datetime
    ) -> bool:
        with self._store._write() as conn:
            return q.mark_failed(
                conn,
                statement_id,
                error=error,
                needs_check=needs_check,
                actor=actor,
                at=at,
                claimed_by=actor,
            )

    def retry_later(
        self, statement_id: int, *, reason: str, retry_at: datetime, actor: str, at: datetime
    ) -> bool:
        with self._store._write() as conn:
            return q.retry_later(
                conn,
                statement_id,
                reason=reason,
                retry_at=retry_at,
                actor=actor,
                at=at,
                claimed_by=actor,
            )

    def sending(self) -> list[StuckSend]:
        with self._store._read() as conn:
            return [
                StuckSend(r.id, r.channel, r.claimed_by, r.claimed_at)
                for r in q.sending_statements(conn)
            ]

    def fail_stuck(
        self, suspects: Sequence[int], error: str, *, actor: str, at: datetime
    ) -> list[int]:
        """Mark those `suspects` still in `sending` failed with `needs_check`: a person looks
        before anything is posted again."""
        failed: list[int] = []
        with self._store._write() as conn:
            for statement_id in suspects:
                if q.mark_failed(
                    conn,
                    statement_id,
                    error=error,
                    needs_check=True,
                    actor=actor,
                    at=at,
                    claimed_by=None,
                ):
                    failed.append(statement_id)
        return failed

    # -- crisis replies ----------------------------------------------------------------------

    def crisis_replies(self, incident_id: int) -> list[Draft]:
        with self._store._read() as conn:
            return q.crisis_replies_of(conn, incident_id)

    def add_crisis_replies(
        self,
        incident_id: int,
        authors: Sequence[str],
        plan: PlanReply,
        *,
        max_replies: int,
        actor: str,
        at: datetime,
    ) -> list[Draft]:
        """One crisis reply per named author (to their newest mention in the incident), all
        or none: refused when an author is not in the incident, already has one, or when the
        incident's cap of `max_replies` would be passed."""
        wanted = list(dict.fromkeys(a.strip() for a in authors if a.strip()))
        if not wanted:
            raise NotAllowed("name at least one amplifier to reply to")
        with self._store._write() as conn:
            incident = incident_rows.get(conn, incident_id)
            existing = q.count_crisis_replies(conn, incident_id)
            if existing + len(wanted) > max_replies:
                raise NotAllowed(
                    f"incident {incident_id} may have at most {max_replies} crisis replies "
                    f"(outreach.crisis_replies_max); it has {existing}, so at most "
                    f"{max(max_replies - existing, 0)} more"
                )
            statements = q.list_statements(conn, incident_id)
            replied = {d.mention_id for d in q.crisis_replies_of(conn, incident_id)}
            made: list[Draft] = []
            for author in wanted:
                stored = q.latest_mention_by(conn, incident_id, author)
                if stored is None:
                    raise NotAllowed(f"{author} has no mention in incident {incident_id}")
                if stored.id in replied:
                    raise NotAllowed(f"{author} already has a crisis reply in this incident")
                draft = q.insert_crisis_draft(
                    conn, stored, plan(incident, stored, statements), actor=actor, at=at
                )
                replied.add(stored.id)
                made.append(draft)
        return made
