"""Deciding an approval exactly once and never half-done: hold it, resume the waiting execution, then record it.

1. lease: one decider at a time holds the pending approval (a conditional update; others wait for the outcome);
2. SendTaskSuccess: Step Functions accepts one answer per task token, so the workflow is the arbiter;
3. settle: pending item deleted, audit record and counter written in one transaction. The resumed run settles the
   same decision too (idempotently), so an audit failure here never loses it.

If SendTaskSuccess fails, the lease is released: the approval is still pending and decidable, and no audit record
says approved. A token the workflow no longer knows means the wait ended (timeout) or another decision won.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from smart_support.auth.tokens import Principal
from smart_support.protocol.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    Forbidden,
    NoPendingInterrupt,
    NotFound,
    ValidationFailed,
)
from smart_support.store.approvals import ApprovalBusy, PendingApproval
from smart_support.turns.models import Decision
from smart_support.turns.policy import apply_edits, may_decide
from smart_support.turns.stepfunctions import TurnWorkflow

if TYPE_CHECKING:
    from smart_support.store.ports import AnalyticsRepository, ApprovalRepository, SessionRepository

logger = Logger(child=True)
BUSY_WAIT_SECONDS = 5.0  # how long a second decider waits for the first one's outcome


class ApprovalService:
    """Registers approvals for the state machine and decides them exactly once."""

    def __init__(
        self,
        store: ApprovalRepository,
        sessions: SessionRepository,
        workflow: TurnWorkflow,
        analytics: AnalyticsRepository,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.workflow = workflow
        self.analytics = analytics

    def decide(
        self,
        interrupt_id: str,
        principal: Principal,
        approved: bool,
        comment: str | None = None,
        now: float | None = None,
        edited_args: dict[str, Any] | None = None,
        cancelling: bool = False,
    ) -> PendingApproval:
        """Decide a pending approval: visible to the principal, allowed by policy, exactly once, never half-done.

        `cancelling` (the owner stopped the turn) may reject what the policy leaves to an operator: a rejection
        changes nothing.
        """
        now = time.time() if now is None else now
        lease_id = uuid.uuid4().hex
        waited_until = time.monotonic() + BUSY_WAIT_SECONDS
        while True:
            pending = self._decidable(interrupt_id, principal, approved, now, edited_args, cancelling)
            try:
                self.store.lease(pending, lease_id, now)
                break
            except (ApprovalBusy, ApprovalAlreadyDecided):  # gone or held meanwhile: the next look says how it ended
                if time.monotonic() > waited_until:
                    raise ApprovalAlreadyDecided("This approval is being decided by someone else.") from None
                time.sleep(0.1)
                now = time.time()
        decision = Decision(
            approved=approved,
            decided_by="operator" if principal.is_operator else "customer",
            comment=comment,
            decided_by_id=principal.sub,
            interrupt_id=pending.interrupt_id,
            args_hash=pending.args_hash,
            edited_args=edited_args or None,
        )
        try:
            self.workflow.send_decision(pending.task_token, decision)
        except ApprovalExpired:
            self.store.release(pending, lease_id)
            if self._closed_by_decision(interrupt_id):
                raise ApprovalAlreadyDecided("This approval was already decided.") from None
            raise
        except Exception:
            self.store.release(pending, lease_id)  # still pending: this decider (or another) may try again
            raise
        # The workflow has the decision: record it. The resumed run records it too, so a failure here loses nothing.
        try:
            self.settle(interrupt_id, decision, now=now, pending=pending)
        except Exception:
            logger.exception("audit left to the resumed run", extra={"interrupt_id": interrupt_id})
        try:
            self.sessions.mark_running(pending.thread_id, pending.turn, interrupt_id, now=now, awaiting_only=True)
        except Exception:  # the resumed run marks it running too
            logger.exception("session not marked running", extra={"thread_id": pending.thread_id})
        return pending

    def _decidable(
        self,
        interrupt_id: str,
        principal: Principal,
        approved: bool,
        now: float,
        edited_args: dict[str, Any] | None,
        cancelling: bool = False,
    ) -> PendingApproval:
        """The pending approval if this principal may decide it now (edits valid); the matching error otherwise."""
        pending = self.store.get(interrupt_id)
        if pending is None:
            decided = self.store.decision_of(interrupt_id)
            if decided and (principal.is_operator or decided.get("customer_id") == principal.sub):
                if decided.get("outcome") == "expired":
                    raise ApprovalExpired("This approval has expired; nothing was changed.")
                raise ApprovalAlreadyDecided("This approval was already decided.")
            raise NotFound("No approval with that id.")
        if pending.owner != principal.sub and not principal.is_operator:
            raise NotFound("No approval with that id.")
        if not may_decide(pending.approver, principal.role) and not (cancelling and not approved):
            raise Forbidden("This request needs a support agent's approval; one will look at it shortly.")
        if pending.deadline <= now:
            raise ApprovalExpired("This approval has expired.")
        if edited_args:
            if not principal.is_operator:
                raise Forbidden("Only a support agent may change the request.")
            if not approved:
                raise ValidationFailed("args: edited arguments only go with approved: true.")
            apply_edits(pending.action, pending.args, edited_args, pending.order_total)  # 422 and still pending
        return pending

    def _closed_by_decision(self, interrupt_id: str) -> bool:
        decided = self.store.decision_of(interrupt_id)
        return decided is not None and decided.get("outcome") != "expired"

    def decide_for_thread(
        self,
        thread_id: str,
        interrupt_id: str,
        principal: Principal,
        approved: bool,
        comment: str | None = None,
        now: float | None = None,
    ) -> PendingApproval:
        """The chat path: decide `interrupt_id` if it is the one pending on the principal's thread, nothing else."""
        session = self.sessions.get_visible(thread_id, principal.sub, is_operator=principal.is_operator, now=now)
        if session.pending_interrupt_id == interrupt_id:
            return self.decide(interrupt_id, principal, approved, comment, now=now)
        decided = self.store.decision_of(interrupt_id)
        if decided and decided.get("thread_id") == thread_id:
            if decided.get("outcome") == "expired":
                raise ApprovalExpired("This approval has expired; nothing was changed.")
            raise ApprovalAlreadyDecided("This approval was already decided.")
        raise NoPendingInterrupt("Nothing with that id is waiting for a decision in this conversation.")

    def settle(
        self, interrupt_id: str, decision: Decision, now: float | None = None, pending: PendingApproval | None = None
    ) -> bool:
        """Record a decision that reached the workflow: audit and count it once (False if already recorded)."""
        now = time.time() if now is None else now
        pending = pending or self.store.get(interrupt_id)
        if pending is None:
            return False
        outcome = "approved" if decision.approved else "rejected"
        role = decision.decided_by if decision.decided_by in ("customer", "operator") else "system"
        counter = "interrupts_approved" if decision.approved else "interrupts_rejected"
        return self.store.settle(pending, decision, role, outcome, now, {counter: 1})

    def expire(self, interrupt_id: str, now: float | None = None) -> bool:
        """The wait timed out: drop the pending item and audit the automatic rejection (once)."""
        now = time.time() if now is None else now
        pending = self.store.get(interrupt_id)
        return pending is not None and self.store.expire(pending, now)
