"""The HTTP API's response bodies, so the OpenAPI document shows what each route really returns."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from smart_support.protocol.types import Approver, HandoffState, Outcome, Status
from smart_support.store.tickets import Ticket, TicketKind, TicketStatus


class ApiModel(BaseModel):
    """A response body: its validator is built when a route first returns one, not at cold start."""

    model_config = ConfigDict(defer_build=True)


class ErrorDetail(ApiModel):
    """What went wrong."""

    code: str = Field(description="machine-readable, e.g. not_found, forbidden, validation_error")
    message: str
    request_id: str


class ErrorEnvelope(ApiModel):
    """Every error the API answers."""

    error: ErrorDetail


class GatewayMessage(ApiModel):
    """What API Gateway answers by itself: a refused token, throttling, a body too large, a function that failed."""

    message: str = Field(description='e.g. "Forbidden", "Too Many Requests", "Internal Server Error"')


class ErrorResponse(RootModel[ErrorEnvelope | GatewayMessage]):
    """Our error envelope, or API Gateway's own answer for the statuses it gives itself."""

    model_config = ConfigDict(defer_build=True)


GATEWAY_STATUSES = frozenset({401, 403, 413, 429, 500})  # API Gateway can answer these without the function
ERROR_DESCRIPTIONS = {
    401: "`unauthorized`: no token, or one that is invalid or expired",
    403: "`forbidden`: the route is for operators (or API Gateway's own refusal)",
    404: "`not_found`: it does not exist or is not visible to this principal",
    409: "Conflict: already decided, or the thread is busy",
    410: "Gone: the session or the approval expired",
    413: "`message_too_large`: the body is over 64 KiB (any route; API Gateway's own answer past 10 MB)",
    422: "`validation_error`: a parameter or the body is invalid",
    429: "Too many requests: `rate_limited`, or API Gateway's throttling",
    500: "`internal_error`, or API Gateway's answer when the function failed",
}


def documented(ok: str, *errors: int, public: bool = False) -> dict[int, Any]:
    """OpenAPI responses of a route: its success (the return annotation's schema) and every error it can answer.

    Routes behind the authorizer can answer 401 and 403; any route 413 (a body over the limit, api/app.py), 429
    (rate limits, throttling) and 500. A route with parameters or a body also answers 422 (added by the OpenAPI
    document, see api/openapi.py).
    """
    statuses = {*errors, 413, 429, 500} | (set() if public else {401, 403})
    responses: dict[int, Any] = {200: {"description": ok}}
    for status in sorted(statuses):
        model = ErrorResponse if status in GATEWAY_STATUSES else ErrorEnvelope
        description = ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        responses[status] = {"description": description, "content": {"application/json": {"model": model}}}
    return responses


class Health(ApiModel):
    """Liveness."""

    status: Literal["ok"]
    service: str


class SessionSummary(ApiModel):
    """One of the caller's threads."""

    thread_id: str
    title: str | None
    status: Status
    turns: int
    updated_at: str
    expires_at: str


class SessionList(ApiModel):
    """The caller's threads, most recent first."""

    sessions: list[SessionSummary]


class ApprovalView(ApiModel):
    """A pending approval as clients and operators see it (never its task token)."""

    interrupt_id: str
    thread_id: str
    customer_id: str
    action: str
    args: dict[str, Any]
    description: str
    approver: Approver
    order_id: str | None
    order_total: float | None
    reason: str | None = Field(description="the customer's words when they asked")
    editable: list[str] = Field(description="the arguments an operator may change when approving")
    recent_messages: list[dict[str, str]] = Field(description="the conversation's last messages (role, content)")
    requested_at: str
    expires_at: str


class SessionState(ApiModel):
    """One thread's state."""

    thread_id: str
    status: Status
    turns: int
    created_at: str
    updated_at: str
    expires_at: str
    pending_interrupt: ApprovalView | None
    handoff: HandoffState | None = Field(
        None, description="`requested` while a ticket waits for a person, `joined` while an operator holds it"
    )
    ticket_id: str | None = None
    operator: str | None = Field(None, description="the display name of the operator holding the thread")
    operator_id: str | None = Field(None, description="who holds the thread (shown to operators only)")


class ToolCallRecord(ApiModel):
    """A tool the assistant called."""

    tool: str
    args: dict[str, Any]


class UserEntry(ApiModel):
    """What the customer wrote."""

    model_config = ConfigDict(extra="allow")

    turn: int
    role: Literal["user"]
    content: str
    at: str


class AssistantEntry(ApiModel):
    """What one agent said, and the tools it called (absent when none)."""

    model_config = ConfigDict(extra="allow")

    turn: int
    role: Literal["assistant"]
    agent: str
    content: str
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, exclude_if=lambda calls: not calls)
    at: str


class DecisionEntry(ApiModel):
    """How an approval was decided."""

    model_config = ConfigDict(extra="allow")

    turn: int
    role: Literal["decision"]
    interrupt_id: str
    action: str
    args: dict[str, Any] = Field(description="the canonical call that ran (after any edit), or the one declined")
    requested_args: dict[str, Any] | None = Field(None, description="the call as asked, when an operator edited it")
    edited_args: dict[str, Any] | None = None
    description: str = Field(description="in words, for the call that ran")
    approved: bool
    decided_by: str
    outcome: Outcome | None = Field(None, description="approved, edited, rejected, withdrawn or expired")
    comment: str | None
    at: str


class OperatorEntry(ApiModel):
    """What a human operator wrote while holding the thread."""

    model_config = ConfigDict(extra="allow")

    turn: int
    role: Literal["operator"]
    content: str
    operator: str = Field(description="the operator's display name")
    message_id: str
    at: str


class SystemEntry(ApiModel):
    """A hand-off event: a person was asked for, joined, or handed the thread back (or the ticket was closed)."""

    model_config = ConfigDict(extra="allow")

    turn: int
    role: Literal["system"]
    event: Literal["handoff"]
    state: HandoffState
    ticket_id: str
    operator: str | None = Field(None, exclude_if=lambda value: value is None)
    at: str


TranscriptEntry = Annotated[
    UserEntry | AssistantEntry | DecisionEntry | OperatorEntry | SystemEntry, Field(discriminator="role")
]


class Transcript(ApiModel):
    """A page of a thread's transcript, oldest first."""

    thread_id: str
    messages: list[TranscriptEntry]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class ApprovalQueue(ApiModel):
    """Open approvals, oldest first."""

    status: Literal["pending"]
    approvals: list[ApprovalView]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class DecisionResult(ApiModel):
    """An operator's decision, recorded."""

    interrupt_id: str
    thread_id: str
    approved: bool
    decided_by: Literal["operator"]
    outcome: Outcome = Field(description="approved, edited or rejected")
    args: dict[str, Any] = Field(description="the canonical call that runs (after the edits), or the one rejected")
    comment: str | None = None
    edited_args: dict[str, Any] | None


class AuditRecord(ApiModel):
    """Who decided what, when, with which outcome."""

    interrupt_id: str
    thread_id: str
    customer_id: str
    action: str
    args: dict[str, Any]
    args_hash: str
    description: str
    approved: bool
    decided_by: str
    decided_by_id: str
    role: str
    outcome: str
    comment: str | None = Field(None, exclude_if=lambda value: value is None)
    edited_args: dict[str, Any] | None = Field(None, exclude_if=lambda value: value is None)
    ran_args: dict[str, Any] | None = Field(
        None, exclude_if=lambda value: value is None, description="the canonical call that ran (approved only)"
    )
    ran: bool | None = Field(
        None, exclude_if=lambda value: value is None, description="whether the decided write changed the order"
    )
    result: str | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="what the write reported, e.g. cancelled, refund_requested, not_changed, not_allowed",
    )
    state: Literal["accepted", "final"] = Field(
        "final", description="accepted while the decision is being delivered; final once the workflow has it"
    )
    decided_at: str


class AuditLog(ApiModel):
    """Approval decisions, newest first."""

    decisions: list[AuditRecord]
    next_cursor: str | None = Field(default=None, description="pass as `cursor` for the next page; null on the last")


class InterruptCounts(ApiModel):
    """Approvals by outcome."""

    requested: int
    approved: int
    rejected: int
    expired: int


class TurnLatency(ApiModel):
    """Turn latency in ms: percentiles (bucket upper bounds) and the histogram they come from."""

    p50: int | None
    p95: int | None
    histogram: dict[str, int]


class HandoffCounts(ApiModel):
    """Requests for a person, takeovers, and how long customers waited."""

    requested: int
    joined: int
    median_seconds_to_join: int | None = Field(description="a histogram bucket bound: at most this many seconds")
    join_histogram: dict[str, int]


class AnalyticsSummary(ApiModel):
    """Sessions, turns, interrupts, hand-offs, tool usage, latency."""

    sessions: int
    turns: int
    failed_turns: int
    interrupts: InterruptCounts
    handoffs: HandoffCounts
    tool_usage: dict[str, int]
    turn_latency_ms: TurnLatency


class TicketNoteView(ApiModel):
    """An internal note (never shown to the customer)."""

    text: str
    by: str
    by_name: str | None
    at: str


class TicketView(ApiModel):
    """A hand-off ticket as operators see it."""

    ticket_id: str
    thread_id: str
    customer_id: str
    summary: str
    kind: TicketKind
    status: TicketStatus
    created_at: str
    updated_at: str | None
    assignee: str | None
    assignee_name: str | None
    assigned_at: str | None
    joined_at: str | None
    closed_at: str | None
    closed_by: str | None
    notes: list[TicketNoteView]

    @classmethod
    def of(cls, ticket: Ticket) -> TicketView:
        """The view of a stored ticket."""
        return cls.model_validate(ticket.public())


class TicketPage(ApiModel):
    """One page of the inbox: tickets of one status (open and assigned oldest first, closed newest first)."""

    status: TicketStatus
    tickets: list[TicketView]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class BulkCloseFailure(ApiModel):
    """A ticket a bulk close left as it was, and why."""

    ticket_id: str
    code: str
    message: str


class BulkCloseResult(ApiModel):
    """What a bulk close did."""

    closed: list[TicketView]
    failed: list[BulkCloseFailure]


class Takeover(ApiModel):
    """The operator holds the thread now."""

    thread_id: str
    status: Literal["with_operator"]
    operator: str
    ticket: TicketView


class OperatorMessage(ApiModel):
    """The message the customer received (the `operator_message` event)."""

    type: Literal["operator_message"]
    thread_id: str
    message_id: str
    content: str
    operator: str
    at: str


class Release(ApiModel):
    """The AI answers the thread again; its ticket is closed."""

    thread_id: str
    status: Literal["idle"]
    ticket: TicketView
