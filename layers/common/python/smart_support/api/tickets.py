"""The hand-off inbox: tickets (escalations, approvals that timed out, threads an operator holds) and their changes."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field, model_validator

from smart_support.api.dependencies import Handoff, Operator, PageCursor, PageLimit, Tickets
from smart_support.api.responses import BulkCloseFailure, BulkCloseResult, TicketPage, TicketView, documented
from smart_support.clock import iso
from smart_support.protocol.errors import NotFound, SupportError
from smart_support.store.tickets import MAX_NOTE_CHARS, TicketStatus

router = Router()
MAX_BULK = 50  # tickets closed in one request
TicketIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class TicketChange(BaseModel):
    """Assign to oneself (`assigned`), put back (`open`), close (`closed`), and/or add an internal note."""

    status: Literal["open", "assigned", "closed"] | None = None
    note: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)] | None = None

    @model_validator(mode="after")
    def _something(self) -> TicketChange:
        if self.status is None and (self.note is None or not self.note.strip()):
            raise ValueError("give a status or a note")
        return self


class BulkClose(BaseModel):
    """Close several tickets at once (e.g. the stale ones), each with the same optional internal note."""

    ticket_ids: Annotated[
        list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]], Field(min_length=1, max_length=MAX_BULK)
    ]
    note: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_CHARS)] | None = None


@router.get(
    "/tickets",
    summary="The hand-off inbox: tickets by status, a page at a time (operators)",
    responses=documented("One page of tickets", 401, 403),
)
def list_tickets(
    operator: Operator,
    tickets: Tickets,
    status: Annotated[TicketStatus, Query()] = "open",
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    older_than_hours: Annotated[int | None, Query(ge=1, le=24 * 365)] = None,
) -> TicketPage:
    """Open and assigned tickets oldest first, closed ones newest first; `next_cursor` until the end. With
    `older_than_hours`, only the open or assigned tickets created longer ago than that: the stale ones, by age."""
    before = iso(time.time() - older_than_hours * 3600) if older_than_hours else None
    page, next_cursor = tickets.list_page(status, limit, cursor, created_before=before)
    return TicketPage(status=status, tickets=[TicketView.of(t) for t in page], next_cursor=next_cursor)


@router.post(
    "/tickets/close",
    summary="Close several tickets at once, e.g. the stale ones (operators)",
    responses=documented("What was closed and what was not, and why", 401, 403, 422),
)
def close_tickets(body: BulkClose, operator: Operator, handoff: Handoff) -> BulkCloseResult:
    """Each ticket closed as `POST /tickets/{id}` with `status: closed` would; one that cannot be (unknown, closed
    already, held by an operator) is listed under `failed` with its error code, and the others are closed."""
    closed: list[TicketView] = []
    failed: list[BulkCloseFailure] = []
    note = body.note.strip() if body.note and body.note.strip() else None
    for ticket_id in dict.fromkeys(body.ticket_ids):
        try:
            closed.append(TicketView.of(handoff.update_ticket(ticket_id, operator, status="closed", note=note)))
        except SupportError as exc:
            failed.append(BulkCloseFailure(ticket_id=ticket_id, code=exc.code, message=exc.message))
    return BulkCloseResult(closed=closed, failed=failed)


@router.get(
    "/tickets/<ticket_id>",
    summary="One ticket with its notes (operators)",
    responses=documented("The ticket", 401, 403, 404),
)
def get_ticket(ticket_id: TicketIdPath, operator: Operator, tickets: Tickets) -> TicketView:
    """The ticket; 404 if unknown."""
    ticket = tickets.get(ticket_id)
    if ticket is None:
        raise NotFound("No ticket with that id.")
    return TicketView.of(ticket)


@router.post(
    "/tickets/<ticket_id>",
    summary="Assign, reopen, close or add a note to a ticket (operators)",
    responses=documented("The ticket as changed", 401, 403, 404, 409),
)
def change_ticket(ticket_id: TicketIdPath, body: TicketChange, operator: Operator, handoff: Handoff) -> TicketView:
    """404 unknown; 409 `ticket_conflict` when closed already or while an operator holds the conversation."""
    note = body.note.strip() if body.note else None
    return TicketView.of(handoff.update_ticket(ticket_id, operator, status=body.status, note=note))
