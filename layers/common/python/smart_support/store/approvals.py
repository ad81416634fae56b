"""Pending approvals (with their task tokens) and the audit trail, written exactly once."""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import BaseModel, Field

from smart_support import aws
from smart_support.clock import iso
from smart_support.protocol.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
)
from smart_support.protocol.events import event
from smart_support.protocol.types import Approver
from smart_support.store import items
from smart_support.store.analytics import counters_update
from smart_support.store.dynamodb import (
    ConditionFailed,
    TransactionCancelled,
    conditional_write,
    store_errors,
    transact_write,
)
from smart_support.store.pages import decode_cursor, encode_cursor
from smart_support.turns.models import Decision
from smart_support.turns.policy import EDITABLE

PENDING_INDEX_KEY = "APPROVALS#PENDING"
NEW_ITEM = "attribute_not_exists(PK)"
GRACE_SECONDS = 24 * 3600  # the pending item outlives its deadline so late deciders hear "expired", not "unknown"
LEASE_SECONDS = 30  # a decider holds the approval this long at most while it reaches the workflow


class ApprovalBusy(Exception):
    """Another decider is delivering its decision on this approval right now."""


class PendingApproval(BaseModel):
    """One write waiting for a human. `task_token` stays on the server."""

    interrupt_id: str
    thread_id: str
    turn: int
    owner: str
    action: str
    args: dict[str, Any]
    args_hash: str
    description: str
    approver: Approver
    requested_at: float
    deadline: float
    task_token: str = Field(repr=False)
    amount: float | None = None
    order_total: float | None = None
    reason: str | None = None
    context: list[dict[str, str]] = Field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """What clients and operators may see (never the task token)."""
        return {
            "interrupt_id": self.interrupt_id,
            "thread_id": self.thread_id,
            "customer_id": self.owner,
            "action": self.action,
            "args": self.args,
            "description": self.description,
            "approver": self.approver,
            "order_id": self.args.get("order_id"),
            "order_total": self.order_total,
            "reason": self.reason,
            "editable": list(EDITABLE.get(self.action, ())),
            "recent_messages": self.context,
            "requested_at": iso(self.requested_at),
            "expires_at": iso(self.deadline),
        }

    def interrupt_event(self) -> dict[str, Any]:
        """The `interrupt` frame for the customer's connection."""
        return event(
            "interrupt",
            self.thread_id,
            interrupt_id=self.interrupt_id,
            action=self.action,
            args=self.args,
            description=self.description,
            approver=self.approver,
            reason=self.reason,
            expires_at=iso(self.deadline),
        )


def _pending_key(interrupt_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"APPROVAL#{interrupt_id}"}, "SK": {"S": "PENDING"}}


def _audit_key(interrupt_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"AUDIT#{interrupt_id}"}, "SK": {"S": "DECISION"}}


class ApprovalStore:
    """Data access for pending approvals and audit records."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def register(self, pending: PendingApproval) -> None:
        """Store (or, on a retried task, refresh the token of) a pending approval."""
        values = pending.model_dump()
        values.update(
            GSI1PK=PENDING_INDEX_KEY,
            GSI1SK=f"{pending.requested_at:017.6f}",
            expires_at=int(pending.deadline) + GRACE_SECONDS,
        )
        item = {**_pending_key(pending.interrupt_id), **items.to_item(values)}
        with store_errors():
            aws.retry_transient(lambda: self._dynamodb.put_item(TableName=self.table_name, Item=item))

    def get(self, interrupt_id: str) -> PendingApproval | None:
        """The pending approval (None once decided or unknown)."""
        response = self._dynamodb.get_item(
            TableName=self.table_name, Key=_pending_key(interrupt_id), ConsistentRead=True
        )
        item = items.from_item(response.get("Item"))
        return PendingApproval.model_validate(item) if item else None

    def lease(self, pending: PendingApproval, lease_id: str, now: float, seconds: float = LEASE_SECONDS) -> None:
        """Hold the open approval for one decider while it reaches the workflow (others wait, then hear the outcome).

        ApprovalExpired past the deadline, ApprovalAlreadyDecided once closed, ApprovalBusy while another decider
        holds it. Conflicts and throttling are retried, never mistaken for one of those.
        """
        try:
            conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=_pending_key(pending.interrupt_id),
                UpdateExpression="SET lease_id = :me, lease_until = :until",
                ConditionExpression=(
                    "attribute_exists(PK) AND deadline > :now"
                    " AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_id = :me)"
                ),
                ExpressionAttributeValues=items.to_values({":me": lease_id, ":until": now + seconds, ":now": now}),
            )
        except ConditionFailed as failed:
            old = items.from_item(failed.old)
            if not old:
                raise ApprovalAlreadyDecided("This approval was already decided.") from failed
            if float(old.get("deadline", 0)) <= now:
                raise ApprovalExpired("This approval has expired.") from failed
            raise ApprovalBusy() from failed

    def release(self, pending: PendingApproval, lease_id: str) -> None:
        """Give the approval back, still pending (the decision did not reach the workflow)."""
        with contextlib.suppress(ConditionFailed):  # the lease had lapsed and someone else took it
            conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=_pending_key(pending.interrupt_id),
                UpdateExpression="REMOVE lease_id, lease_until",
                ConditionExpression="lease_id = :me",
                ExpressionAttributeValues=items.to_values({":me": lease_id}),
            )

    def settle(
        self,
        pending: PendingApproval,
        decision: Decision,
        role: str,
        outcome: str,
        now: float,
        counters: dict[str, int] | None = None,
    ) -> bool:
        """Close the approval: delete the pending item, write its audit record and count it, in one transaction.

        Only for a decision that reached the workflow (or the timeout): idempotent, the first caller writes and the
        others get False. Conflicts and throttling are retried.
        """
        delete = {
            "TableName": self.table_name,
            "Key": _pending_key(pending.interrupt_id),
            "ConditionExpression": "attribute_exists(PK)",
        }
        audit = {
            "TableName": self.table_name,
            "Item": self._audit_item(pending, decision, role, outcome, now),
            "ConditionExpression": NEW_ITEM,
        }
        writes: list[dict[str, Any]] = [{"Delete": delete}, {"Put": audit}]
        if counters:
            writes.append({"Update": counters_update(self.table_name, counters)})
        try:
            transact_write(self._dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.transient:
                raise
            return False
        return True

    def expire(self, pending: PendingApproval, now: float) -> bool:
        """The wait ended without a decision: close the approval as an automatic rejection (idempotent)."""
        decision = Decision(approved=False, decided_by="timeout")
        return self.settle(pending, decision, "system", "expired", now, {"interrupts_expired": 1})

    def list_pending(
        self, now: float, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[PendingApproval], str | None]:
        """One page of open approvals across threads, oldest first, and the cursor of the next page."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": items.to_values({":pk": PENDING_INDEX_KEY}),
            "Limit": limit,
        }
        if start := decode_cursor(cursor):
            query["ExclusiveStartKey"] = start
        response = self._dynamodb.query(**query)
        pending = [PendingApproval.model_validate(items.from_item(i)) for i in response.get("Items", [])]
        return [p for p in pending if p.deadline > now], encode_cursor(response.get("LastEvaluatedKey"))

    @staticmethod
    def _audit_item(
        pending: PendingApproval, decision: Decision, role: str, outcome: str, now: float
    ) -> dict[str, Any]:
        """The audit record (no TTL): who decided what, when, with which outcome."""
        values = {
            "interrupt_id": pending.interrupt_id,
            "thread_id": pending.thread_id,
            "customer_id": pending.owner,
            "action": pending.action,
            "args": pending.args,
            "args_hash": pending.args_hash,
            "edited_args": decision.edited_args,
            "description": pending.description,
            "approved": decision.approved,
            "decided_by": decision.decided_by,
            "decided_by_id": decision.decided_by_id or decision.decided_by,
            "role": role,
            "outcome": outcome,
            "comment": decision.comment,
            "decided_at": iso(now),
            "GSI1PK": "AUDIT",
            "GSI1SK": iso(now),
        }
        return {**_audit_key(pending.interrupt_id), **items.to_item(values)}

    def decision_of(self, interrupt_id: str) -> dict[str, Any] | None:
        """The audit record of a decided approval."""
        response = self._dynamodb.get_item(TableName=self.table_name, Key=_audit_key(interrupt_id), ConsistentRead=True)
        return items.from_item(response.get("Item"))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest decisions, newest first."""
        response = self._dynamodb.query(
            TableName=self.table_name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=items.to_values({":pk": "AUDIT"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        hidden = {"PK", "SK", "GSI1PK", "GSI1SK"}
        return [
            {k: v for k, v in (items.from_item(i) or {}).items() if k not in hidden} for i in response.get("Items", [])
        ]
