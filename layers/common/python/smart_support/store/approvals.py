"""The approval ledger: pending approvals (with their task tokens) and the audit trail, one decision per id, ever.

An audit record (`AUDIT#<interrupt_id>`) is `accepted` while its decider delivers it to the workflow and `final` once
the workflow resumed with it (or the wait timed out); a final record is never replaced, and an id with one is never
registered again. docs/approvals.md states the invariants."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal

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
    transact_write,
)
from smart_support.store.sharded_index import ShardedIndex
from smart_support.turns.models import Decision
from smart_support.turns.policy import EDITABLE, args_hash

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from smart_support.store.items import Item

# Listed on GSI1 over shards (hot keys: every approval of every customer is written to these listings)
PENDING_INDEX = ShardedIndex("APPROVALS#PENDING", legacy="APPROVALS#PENDING")
AUDIT_INDEX = ShardedIndex("AUDIT", legacy="AUDIT")
NEW_ITEM = "attribute_not_exists(PK)"
GRACE_SECONDS = 24 * 3600  # the pending item outlives its deadline so late deciders hear "expired", not "unknown"
LEASE_SECONDS = 30  # a decider holds the approval this long at most while it reaches the workflow


class ApprovalBusy(Exception):
    """Another decider is delivering its decision on this approval right now."""


class AlreadyFinal(Exception):
    """The id has a final decision: it can never be registered (asked) again."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("this approval was already decided")
        self.record = record


LedgerState = Literal["accepted", "final"]


class AuditSubject(BaseModel):
    """What an audit record is about: one approval request (from the pending item, or from the resumed task)."""

    interrupt_id: str
    thread_id: str
    owner: str
    action: str
    args: dict[str, Any]
    description: str


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
    items: int | None = None
    reason: str | None = None
    context: list[dict[str, str]] = Field(default_factory=list)
    decided_outcome: str | None = None  # set while a decider delivers its decision (under its lease)
    lease_until: float | None = None

    def open_at(self, now: float) -> bool:
        """Still waiting for a decision: before its deadline and nobody delivering one."""
        delivering = self.decided_outcome is not None and (self.lease_until or 0) > now
        return self.deadline > now and not delivering

    def subject(self) -> AuditSubject:
        """What its audit record is about."""
        return AuditSubject.model_validate(self.model_dump(include=set(AuditSubject.model_fields)))

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

    def interrupt_event(self) -> dict[str, object]:
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


def _pending_key(interrupt_id: str) -> Item:
    return {"PK": {"S": f"APPROVAL#{interrupt_id}"}, "SK": {"S": "PENDING"}}


def _audit_key(interrupt_id: str) -> Item:
    return {"PK": {"S": f"AUDIT#{interrupt_id}"}, "SK": {"S": "DECISION"}}


class ApprovalStore:
    """Data access for the approval ledger: pending approvals and audit records."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def register(self, pending: PendingApproval) -> None:
        """Store (or, on a retried task, refresh the token of) a pending approval; AlreadyFinal once decided."""
        values = pending.model_dump(exclude={"decided_outcome", "lease_until"})
        values.update(
            GSI1PK=PENDING_INDEX.partition(pending.interrupt_id),
            GSI1SK=f"{pending.requested_at:017.6f}",
            expires_at=int(pending.deadline) + GRACE_SECONDS,
        )
        item = {**_pending_key(pending.interrupt_id), **items.to_item(values)}
        not_final: TransactWriteItemTypeDef = {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": _audit_key(pending.interrupt_id),
                "ConditionExpression": "attribute_not_exists(PK) OR #state <> :final",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": items.to_values({":final": "final"}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        try:
            transact_write(self._dynamodb, [not_final, {"Put": {"TableName": self.table_name, "Item": item}}])
        except TransactionCancelled as cancelled:
            if cancelled.failed_at(0):
                raise AlreadyFinal(items.from_item(cancelled.old[0]) or {}) from cancelled
            raise

    def get(self, interrupt_id: str) -> PendingApproval | None:
        """The pending approval (None once decided or unknown)."""
        response = self._dynamodb.get_item(
            TableName=self.table_name, Key=_pending_key(interrupt_id), ConsistentRead=True
        )
        item = items.from_item(response.get("Item"))
        return PendingApproval.model_validate(item) if item else None

    def record(self, pending: PendingApproval, decision: Decision, lease_id: str, now: float) -> None:
        """Make `decision` the one being delivered: the pending item held by this decider and the audit record
        `accepted`, in one transaction, before the workflow hears it (a failure here fails the decision).

        ApprovalExpired past the deadline, ApprovalAlreadyDecided once closed, ApprovalBusy while another decider
        holds it. Conflicts and throttling are retried, never mistaken for one of those.
        """
        outcome = decision.resolved_outcome()
        hold: TransactWriteItemTypeDef = {
            "Update": {
                "TableName": self.table_name,
                "Key": _pending_key(pending.interrupt_id),
                "UpdateExpression": "SET lease_id = :me, lease_until = :until, decided_outcome = :outcome",
                "ConditionExpression": (
                    "attribute_exists(PK) AND deadline > :now"
                    " AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_id = :me)"
                ),
                "ExpressionAttributeValues": items.to_values(
                    {":me": lease_id, ":until": now + LEASE_SECONDS, ":now": now, ":outcome": outcome}
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        audit = self._audit_item(pending.subject(), decision, now, "accepted")
        audit.update(items.to_item({"lease_id": lease_id, "lease_until": now + LEASE_SECONDS}))
        accept: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table_name,
                "Item": audit,
                "ConditionExpression": (
                    "attribute_not_exists(PK) OR (#state = :accepted AND (lease_until < :now OR lease_id = :me))"
                ),
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": items.to_values({":accepted": "accepted", ":now": now, ":me": lease_id}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        try:
            transact_write(self._dynamodb, [hold, accept])
        except TransactionCancelled as cancelled:
            if cancelled.transient or not cancelled.condition_failed:
                raise
            old_pending = items.from_item(cancelled.old[0]) if cancelled.failed_at(0) else None
            old_audit = items.from_item(cancelled.old[1]) if cancelled.failed_at(1) and len(cancelled.old) > 1 else None
            if (cancelled.failed_at(0) and not old_pending) or (old_audit and old_audit.get("state") == "final"):
                final = old_audit or self.decision_of(pending.interrupt_id)
                if final and final.get("outcome") == "expired":
                    raise ApprovalExpired("This approval has expired; nothing was changed.") from cancelled
                raise ApprovalAlreadyDecided("This approval was already decided.") from cancelled
            if old_pending and float(old_pending.get("deadline", 0)) <= now:
                raise ApprovalExpired("This approval has expired.") from cancelled
            raise ApprovalBusy() from cancelled

    def unrecord(self, pending: PendingApproval, lease_id: str) -> None:
        """Take back a decision the workflow did not take: the audit record goes, the approval is open again."""
        with contextlib.suppress(ConditionFailed):  # replaced meanwhile (the timeout, or a later decider)
            conditional_write(
                self._dynamodb.delete_item,
                TableName=self.table_name,
                Key=_audit_key(pending.interrupt_id),
                ConditionExpression="lease_id = :me AND #state = :accepted",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=items.to_values({":me": lease_id, ":accepted": "accepted"}),
            )
        with contextlib.suppress(ConditionFailed):  # the lease had lapsed and someone else took it, or it closed
            conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=_pending_key(pending.interrupt_id),
                UpdateExpression="REMOVE lease_id, lease_until, decided_outcome",
                ConditionExpression="lease_id = :me",
                ExpressionAttributeValues=items.to_values({":me": lease_id}),
            )

    def finalize(self, subject: AuditSubject, decision: Decision, now: float, counters: dict[str, int]) -> bool:
        """The workflow resumed with `decision`: the audit record says so (correcting an `accepted` one that lost),
        the pending item goes and the counters count it, once. False if the record was final already."""
        final: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table_name,
                "Item": self._audit_item(subject, decision, now, "final"),
                "ConditionExpression": "attribute_not_exists(PK) OR #state <> :final",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": items.to_values({":final": "final"}),
            }
        }
        writes: list[TransactWriteItemTypeDef] = [
            final,
            {"Delete": {"TableName": self.table_name, "Key": _pending_key(subject.interrupt_id)}},
        ]
        if counters:
            writes.append({"Update": counters_update(self.table_name, counters)})
        try:
            transact_write(self._dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.transient or not cancelled.failed_at(0):
                raise
            return False
        return True

    def record_result(self, interrupt_id: str, ran: bool, result: str) -> None:
        """The decided write's effect on the audit record (`ran`: the order changed; `result`: the tool's word)."""
        with contextlib.suppress(ConditionFailed):  # no record (a decision the limit refused without asking)
            conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=_audit_key(interrupt_id),
                UpdateExpression="SET ran = :ran, #result = :result",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#result": "result"},
                ExpressionAttributeValues=items.to_values({":ran": ran, ":result": result}),
            )

    def list_pending(
        self, now: float, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[PendingApproval], str | None]:
        """One page of open approvals across threads, oldest first, and the cursor of the next page."""
        found, next_cursor = PENDING_INDEX.page(self._dynamodb, self.table_name, limit, cursor)
        pending = [PendingApproval.model_validate(items.from_item(i)) for i in found]
        return [p for p in pending if p.open_at(now)], next_cursor

    @staticmethod
    def _audit_item(subject: AuditSubject, decision: Decision, now: float, state: LedgerState) -> Item:
        """The audit record (no TTL): who decided what, when, with which outcome, and the call that ran."""
        values = {
            "interrupt_id": subject.interrupt_id,
            "thread_id": subject.thread_id,
            "customer_id": subject.owner,
            "action": subject.action,
            "args": subject.args,
            "args_hash": args_hash(subject.args),
            "edited_args": decision.edited_args,
            "ran_args": decision.args if decision.approved else None,
            "description": subject.description,
            "approved": decision.approved,
            "decided_by": decision.decided_by,
            "decided_by_id": decision.decided_by_id or decision.decided_by,
            "role": decision.decided_by if decision.decided_by in ("customer", "operator") else "system",
            "outcome": decision.resolved_outcome(),
            "comment": decision.comment,
            "decided_at": iso(now),
            "state": state,
            "GSI1PK": AUDIT_INDEX.partition(subject.interrupt_id),
            "GSI1SK": iso(now),
        }
        return {**_audit_key(subject.interrupt_id), **items.to_item(values)}

    def decision_of(self, interrupt_id: str) -> dict[str, object] | None:
        """The audit record of an approval (`state` accepted while being delivered, final once the workflow has it)."""
        response = self._dynamodb.get_item(TableName=self.table_name, Key=_audit_key(interrupt_id), ConsistentRead=True)
        return items.from_item(response.get("Item"))

    def audit_log(self, limit: int = 100, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of decisions, newest first, and the cursor of the next page."""
        found, next_cursor = AUDIT_INDEX.page(self._dynamodb, self.table_name, limit, cursor, newest_first=True)
        hidden = {"PK", "SK", "GSI1PK", "GSI1SK", "lease_id", "lease_until"}
        return [{k: v for k, v in (items.from_item(i) or {}).items() if k not in hidden} for i in found], next_cursor
