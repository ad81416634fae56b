"""An operator in the conversation: take a thread over, write to the customer, hand it back to the AI."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import AfterValidator, BaseModel, Field

from smart_support.api.dependencies import Handoff, Operator
from smart_support.api.responses import OperatorMessage, Release, Takeover, TicketView, documented
from smart_support.protocol.types import MAX_CONTENT_CHARS, THREAD_ID_PATTERN, not_blank
from smart_support.store.tickets import MAX_NOTE_CHARS

router = Router()
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN)]


class Reply(BaseModel):
    """What the operator writes to the customer."""

    content: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS), AfterValidator(not_blank)]


class HandBack(BaseModel):
    """An optional internal note kept on the closed ticket."""

    note: Annotated[str, Field(max_length=MAX_NOTE_CHARS)] | None = None


@router.post(
    "/sessions/<thread_id>/takeover",
    summary="Join a conversation: the AI pauses on it (operators)",
    responses=documented("The operator holds the thread", 401, 403, 404, 409, 410),
)
def take_over(thread_id: ThreadIdPath, operator: Operator, handoff: Handoff) -> Takeover:
    """`with_operator`, `handoff joined` to the customer, ticket assigned; 409 `thread_busy` while a turn runs."""
    session, ticket = handoff.take_over(thread_id, operator)
    return Takeover(
        thread_id=thread_id,
        status="with_operator",
        operator=session.operator_name or operator.display_name,
        ticket=TicketView.of(ticket),
    )


@router.post(
    "/sessions/<thread_id>/messages",
    summary="Write to the customer in a held conversation (operators)",
    responses=documented("The message as the customer got it", 401, 403, 404, 409, 410),
)
def post_message(thread_id: ThreadIdPath, body: Reply, operator: Operator, handoff: Handoff) -> OperatorMessage:
    """The customer gets `operator_message`; the transcript keeps it (role `operator`). 409 unless you hold it."""
    return OperatorMessage.model_validate(handoff.post_message(thread_id, operator, body.content))


@router.post(
    "/sessions/<thread_id>/release",
    summary="Hand a conversation back to the AI (operators)",
    responses=documented("The AI answers again", 401, 403, 404, 409, 410),
)
def release(
    thread_id: ThreadIdPath, operator: Operator, handoff: Handoff, body: Annotated[HandBack | None, Body()] = None
) -> Release:
    """Status `idle`, the customer gets `handoff returned`, the ticket is closed; the next turn sees the exchange."""
    note = body.note.strip() if body and body.note and body.note.strip() else None
    _, ticket = handoff.release(thread_id, operator, note)
    return Release(thread_id=thread_id, status="idle", ticket=TicketView.of(ticket))
