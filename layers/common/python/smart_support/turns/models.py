"""Payloads of the turn state machine: the turn request, decisions, interrupts and each task's input."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smart_support.protocol.types import Approver, DecidedBy, Outcome


class Payload(BaseModel):
    """A state machine payload: its validator is built when a process first uses it (each uses one or two)."""

    model_config = ConfigDict(defer_build=True)


class TurnRequest(Payload):
    """What one execution works on (its input under `turn`)."""

    thread_id: str
    turn: int
    owner: str
    content: str
    connection_id: str | None = None
    message_id: str | None = None
    started_at: float
    watchers: list[str] = Field(default_factory=list)  # operator connections watching the thread when it started
    handoff_turn: int | None = None  # an operator talked with the customer after this turn: the model reads it
    incarnation: str = ""
    queued: list[str] | None = None  # messages queued behind the previous turn (already in the transcript)

    def messages(self) -> list[str]:
        """The customer's messages this turn answers, in order."""
        return list(self.queued) if self.queued else [self.content]


class Decision(Payload):
    """A human's (or the timeout's) answer to one approval request, bound to it by id and arguments' hash."""

    approved: bool
    decided_by: DecidedBy
    comment: str | None = None
    decided_by_id: str | None = None
    interrupt_id: str | None = None
    args_hash: str | None = None
    edited_args: dict[str, Any] | None = None  # an operator's partial change of the editable arguments
    outcome: Outcome | None = None  # None from an older writer (or the state machine's timeout): derived
    args: dict[str, Any] | None = None  # the canonical call that runs, after any edit (approved only)

    def resolved_outcome(self) -> Outcome:
        """approved / edited / rejected / withdrawn / expired."""
        if self.outcome is not None:
            return self.outcome
        if self.decided_by == "timeout":
            return "expired"
        if self.approved:
            return "edited" if self.edited_args else "approved"
        return "rejected"


class InterruptInfo(Payload):
    """What the agent asked a human to approve (from the graph's interrupt payload)."""

    interrupt_id: str
    action: str
    args: dict[str, Any]
    description: str
    approver: Approver
    amount: float | None = None
    order_total: float | None = None
    items: int | None = None  # the order's item count, for descriptions
    reason: str | None = None
    context: list[dict[str, str]] = Field(default_factory=list)  # the last few messages, for the approver


class AwaitApprovalTask(Payload):
    """Payload of the AwaitApproval state."""

    task: Literal["await_approval"]
    task_token: str = Field(repr=False)
    turn: TurnRequest
    interrupt: InterruptInfo


class ReportFailureTask(Payload):
    """Payload of the ReportFailure state."""

    task: Literal["report_failure"]
    turn: TurnRequest
    failure: dict[str, Any] | None = None


class AgentTask(Payload):
    """Payload of the RunAgent and ResumeAgent states."""

    task: Literal["run", "resume"]
    turn: TurnRequest
    interrupt: InterruptInfo | None = None
    decision: Decision | None = None
    approvals: int = 0  # approvals this turn asked for before this task
    attempt: int = 0  # the state's RetryCount: > 0 when Step Functions retries the task
