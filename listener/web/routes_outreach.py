"""Outreach pages: the outbox (what waits, why, what a person must check; manual posting with
"Mark as sent"), complaint cases with their SLA figures, and the do-not-contact list.

Every change goes through `listener.store.outreach` (audited in the same transaction) or the
dispatcher's `mark_sent`, which checks the same rules as an automatic send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from listener.domain import Channel, Draft, DraftStatus, StoredMention
from listener.errors import InvalidTransition, NotAllowed, NotFound
from listener.outreach.cases import ROOT_CAUSES, Case, CaseStatus, Sla
from listener.outreach.dispatch import Dispatcher
from listener.outreach.publishers.manual import ManualPost, manual_post
from listener.outreach.tone import promotional_phrases
from listener.store import WebUser
from listener.web.auth import Role, role_of
from listener.web.deps import Approver, Desk, RecordId, Viewer, flash, get_desk
from listener.web.pages import NavLink, local_path, render

router = APIRouter()
NAV = [
    NavLink("Outbox", "/outbox"),
    NavLink("Cases", "/cases"),
    NavLink("Contacts", "/contacts"),
]

CASE_FILTERS = ["open", "all", *[s.value for s in CaseStatus]]
OUTBOX_STATUSES = ("approved", "sending", "failed")


def _can_act(user: WebUser) -> bool:
    return role_of(user).allows(Role.APPROVER)


# -- outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxItem:
    draft: Draft
    mention: StoredMention | None
    post: ManualPost | None
    promotional: list[str]

    @property
    def can_mark_sent(self) -> bool:
        d = self.draft
        manual = d.status is DraftStatus.APPROVED and d.channel is Channel.MANUAL
        return manual or (d.status is DraftStatus.FAILED and d.needs_check)


@router.get("/outbox")
def outbox_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    warn = desk.listener.settings.outreach.warn_promotional
    items: list[OutboxItem] = []
    limit = desk.listener.settings.web.page_size
    drafts, found = desk.listener.store.outreach.outbox(OUTBOX_STATUSES, limit)
    for draft in drafts:
        mention = found.get(draft.mention_id)
        post = (
            manual_post(draft, mention.mention)
            if mention is not None and draft.channel is Channel.MANUAL
            else None
        )
        items.append(
            OutboxItem(draft, mention, post, promotional_phrases(draft.text) if warn else [])
        )
    return render(
        request,
        "outbox.html",
        {
            "needs_check": [
                i for i in items if i.draft.needs_check and i.draft.status is DraftStatus.FAILED
            ],
            "manual": [
                i
                for i in items
                if i.draft.channel is Channel.MANUAL and i.draft.status is DraftStatus.APPROVED
            ],
            "waiting": [
                i
                for i in items
                if i.draft.status in (DraftStatus.APPROVED, DraftStatus.SENDING)
                and i.draft.channel is not Channel.MANUAL
            ],
            "failed": [
                i for i in items if i.draft.status is DraftStatus.FAILED and not i.draft.needs_check
            ],
            "can_act": _can_act(user),
        },
    )


@router.post("/drafts/{draft_id}/mark-sent")
def mark_sent(
    request: Request,
    draft_id: RecordId,
    user: Approver,
    platform_id: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    dispatcher = Dispatcher(listener.settings, listener.store, listener.clock, publishers={})
    try:
        dispatcher.mark_sent(draft_id, actor=user.name, platform_id=platform_id, note=note)
    except (NotAllowed, InvalidTransition) as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"Draft {draft_id} marked as sent.")
    return RedirectResponse(local_path(next, "/outbox"), status_code=303)


# -- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRowView:
    case: Case
    sla: Sla


def _case_views(desk: Desk, cases: list[Case]) -> list[CaseRowView]:
    outreach = desk.listener.settings.outreach
    now = desk.listener.clock.now()
    return [
        CaseRowView(c, c.figures(now, outreach.first_response_sla, outreach.resolution_sla))
        for c in cases
    ]


@router.get("/cases")
def cases_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    brand = request.query_params.get("brand", "")[:200]
    shown = request.query_params.get("status", "open")
    shown = shown if shown in CASE_FILTERS else "open"
    cases = desk.listener.store.outreach.cases(
        brand=brand,
        status="" if shown in ("open", "all") else shown,
        open_only=shown == "open",
    )
    views = _case_views(desk, cases)
    outreach = desk.listener.settings.outreach
    return render(
        request,
        "cases.html",
        {
            "rows": views,
            "breached": sum(1 for v in views if v.sla.breached),
            "brands": [b.name for b in desk.listener.settings.brands],
            "brand": brand,
            "shown": shown,
            "filters": CASE_FILTERS,
            "first_response_sla": outreach.first_response_sla,
            "resolution_sla": outreach.resolution_sla,
        },
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: RecordId, user: Viewer) -> Response:
    desk = get_desk(request)
    case, found, drafts = desk.listener.store.outreach.case_with_items(case_id)
    (view,) = _case_views(desk, [case])
    return render(
        request,
        "cases_detail.html",
        {
            "view": view,
            "c": case,
            "mentions": [found[i] for i in case.mention_ids if i in found],
            "drafts": drafts,
            "statuses": [s.value for s in CaseStatus],
            "root_causes": ROOT_CAUSES,
            "can_act": _can_act(user),
        },
    )


@router.post("/cases/{case_id}")
def update_case(
    request: Request,
    case_id: RecordId,
    user: Approver,
    status: Annotated[str, Form(max_length=40)] = "",
    owner: Annotated[str, Form(max_length=200)] = "",
    root_cause: Annotated[str, Form(max_length=60)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    try:
        listener.store.outreach.update_case(
            case_id,
            actor=user.name,
            at=listener.clock.now(),
            status=status or None,
            owner=owner,
            root_cause=root_cause,
            note=note or None,
            only_changes=True,
        )
    except (NotAllowed, InvalidTransition) as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"Case {case_id} updated.")
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


# -- do-not-contact --------------------------------------------------------------------------


@router.get("/contacts")
def contacts_page(request: Request, user: Viewer) -> Response:
    desk = get_desk(request)
    brand = request.query_params.get("brand", "")[:200]
    contacts = desk.listener.store.outreach.contacts(brand)
    return render(
        request,
        "contacts.html",
        {
            "contacts": contacts,
            "brands": [b.name for b in desk.listener.settings.brands],
            "brand": brand,
            "can_act": _can_act(user),
        },
    )


def _known_brand(desk: Desk, brand: str) -> str:
    names = [b.name for b in desk.listener.settings.brands]
    if brand not in names:
        raise NotAllowed(f"there is no brand {brand!r} (configured: {', '.join(names)})")
    return brand


@router.post("/contacts")
def add_contact(
    request: Request,
    user: Approver,
    brand: Annotated[str, Form(max_length=200)] = "",
    author: Annotated[str, Form(max_length=400)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    try:
        added, cancelled = listener.store.outreach.add_contact(
            brand=_known_brand(desk, brand),
            author=author,
            reason=reason,
            actor=user.name,
            at=listener.clock.now(),
        )
    except NotAllowed as exc:
        flash(request, "error", str(exc))
    else:
        state = "added to" if added else "already on"
        flash(
            request,
            "ok",
            f"{author} {state} the do-not-contact list of {brand}; "
            f"{len(cancelled)} waiting repl(ies) cancelled.",
        )
    return RedirectResponse("/contacts", status_code=303)


@router.post("/contacts/remove")
def remove_contact(
    request: Request,
    user: Approver,
    brand: Annotated[str, Form(max_length=200)] = "",
    author: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    desk = get_desk(request)
    listener = desk.listener
    try:
        listener.store.outreach.remove_contact(
            brand=brand, author=author, actor=user.name, at=listener.clock.now()
        )
    except NotFound as exc:
        flash(request, "error", str(exc))
    else:
        flash(request, "ok", f"{author} removed from the do-not-contact list of {brand}.")
    return RedirectResponse("/contacts", status_code=303)
