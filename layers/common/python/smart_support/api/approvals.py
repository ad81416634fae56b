"""The operator console's approval queue and decision callback, and the audit log."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field, StrictBool

from smart_support import services
from smart_support.api.context import require_operator

router = Router()


class DecisionBody(BaseModel):
    """An operator's decision: approve (optionally with edited arguments) or reject with a comment."""

    approved: StrictBool
    comment: Annotated[str, Field(max_length=1000)] | None = None
    args: Annotated[dict[str, Any], Field(max_length=4)] | None = Field(
        None, description="Only with approved: true. Refund `amount` (> 0, ≤ the order total) or shipping `address`."
    )


@router.get("/approvals", summary="Pending approvals across threads (operators)")
def list_approvals(
    status: Annotated[Literal["pending"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Open approvals, oldest first, a page at a time (`next_cursor` until the end)."""
    require_operator(router)
    pending, next_cursor = services.approval_store().list_pending(time.time(), limit, cursor)
    return {"status": status, "approvals": [p.public() for p in pending], "next_cursor": next_cursor}


@router.post("/approvals/<interrupt_id>", summary="Decide a pending approval (operators)")
def decide(interrupt_id: str, body: DecisionBody) -> dict[str, Any]:
    """Approve or reject exactly once: 404 unknown, 409 already decided, 410 expired."""
    principal = require_operator(router)
    decided = services.approvals().decide(
        interrupt_id, principal, body.approved, body.comment, edited_args=body.args or None
    )
    return {
        "interrupt_id": decided.interrupt_id,
        "thread_id": decided.thread_id,
        "approved": body.approved,
        "decided_by": "operator",
        "edited_args": body.args or None,
    }


@router.get("/audit", summary="Approval decisions, newest first (operators)")
def audit() -> dict[str, Any]:
    """The audit trail of decisions."""
    require_operator(router)
    return {"decisions": services.approval_store().audit_log()}
