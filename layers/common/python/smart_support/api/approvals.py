"""The operator console's approval queue and decision callback, and the audit log."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field, StrictBool

from smart_support.api.dependencies import Approvals, Decisions, Operator, PageCursor, PageLimit
from smart_support.api.responses import ApprovalQueue, ApprovalView, AuditLog, DecisionResult, documented

router = Router()


class DecisionBody(BaseModel):
    """An operator's decision: approve (optionally with edited arguments) or reject with a comment."""

    approved: StrictBool
    comment: Annotated[str, Field(max_length=1000)] | None = None
    args: Annotated[dict[str, Any], Field(max_length=4)] | None = Field(
        None,
        description=(
            "Only with approved: true. Refund `amount` in dollars (at least $0.01 after rounding to cents, at most the"
            " order total) or shipping `address`."
        ),
    )


@router.get(
    "/approvals",
    summary="Pending approvals across threads (operators)",
    responses=documented("Open approvals, oldest first", 401, 403),
)
def list_approvals(
    operator: Operator,
    approvals: Approvals,
    status: Annotated[Literal["pending"], Query()] = "pending",
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> ApprovalQueue:
    """Open approvals, oldest first, a page at a time (`next_cursor` until the end)."""
    pending, next_cursor = approvals.list_pending(time.time(), limit, cursor)
    return ApprovalQueue(
        status=status, approvals=[ApprovalView.model_validate(p.public()) for p in pending], next_cursor=next_cursor
    )


@router.post(
    "/approvals/<interrupt_id>",
    summary="Decide a pending approval (operators)",
    responses=documented("Decided", 401, 403, 404, 409, 410, 413),
)
def decide(interrupt_id: str, body: DecisionBody, operator: Operator, decisions: Decisions) -> DecisionResult:
    """Approve or reject exactly once: 404 unknown, 409 already decided, 410 expired."""
    decided, decision = decisions.decide(
        interrupt_id, operator, body.approved, body.comment, edited_args=body.args or None
    )
    return DecisionResult(
        interrupt_id=decided.interrupt_id,
        thread_id=decided.thread_id,
        approved=body.approved,
        decided_by="operator",
        outcome=decision.resolved_outcome(),
        args=decision.args or decided.args,
        comment=decision.comment,
        edited_args=body.args or None,
    )


@router.get(
    "/audit", summary="Approval decisions, newest first (operators)", responses=documented("Decisions", 401, 403)
)
def audit(operator: Operator, approvals: Approvals, limit: PageLimit = 100, cursor: PageCursor = None) -> AuditLog:
    """The audit trail of decisions, newest first, a page at a time (`next_cursor` until the end)."""
    decisions, next_cursor = approvals.audit_log(limit, cursor)
    return AuditLog.model_validate({"decisions": decisions, "next_cursor": next_cursor})
