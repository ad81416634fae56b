"""The hand-off inbox: tickets (escalations, approvals that timed out, threads an operator holds) and their changes."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field, model_validator

from smart_support.api.dependencies import Handoff, Operator, PageCursor, PageLimit, Tickets
from smart_support.api.responses import TicketPage, TicketView, documented
from smart_support.protocol.errors import NotFound
from smart_support.store.tickets import MAX_NOTE_CHARS, TicketStatus

router = Router()
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
) -> TicketPage:
    """Open and assigned tickets oldest first, closed ones newest first; `next_cursor` until the end."""
    page, next_cursor = tickets.list_page(status, limit, cursor)
    return TicketPage(status=status, tickets=[TicketView.of(t) for t in page], next_cursor=next_cursor)


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
