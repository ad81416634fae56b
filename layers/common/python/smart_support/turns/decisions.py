"""Deciding an approval exactly once: claim, audit, then resume the waiting execution."""

from __future__ import annotations

import time
from typing import Any

from smart_support.auth.tokens import Principal
from smart_support.protocol.errors import (
    ApprovalAlreadyDecided,
    ApprovalExpired,
    Forbidden,
    NoPendingInterrupt,
    NotFound,
    ValidationFailed,
)
from smart_support.store.approvals import PendingApproval
from smart_support.store.ports import AnalyticsRepository, ApprovalRepository, SessionRepository
from smart_support.turns.models import Decision
from smart_support.turns.policy import apply_edits, may_decide
from smart_support.turns.stepfunctions import TurnWorkflow


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
        """Decide a pending approval: visible to the principal, allowed by policy, exactly once.

        `cancelling` (the owner stopped the turn) may reject what the policy leaves to an operator: a rejection
        changes nothing.
        """
        now = time.time() if now is None else now
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
        decision = Decision(
            approved=approved,
            decided_by="operator" if principal.is_operator else "customer",
            comment=comment,
            decided_by_id=principal.sub,
            interrupt_id=pending.interrupt_id,
            args_hash=pending.args_hash,
            edited_args=edited_args or None,
        )
        self.store.claim(pending, decision, principal.role, now)
        self.sessions.mark_running(pending.thread_id, pending.turn, pending.interrupt_id, now=now)
        try:
            self.workflow.send_decision(pending.task_token, decision)
        except ApprovalExpired:
            self.store.mark_expired(pending.interrupt_id)
            raise
        self.analytics.add(**{"interrupts_approved" if approved else "interrupts_rejected": 1})
        return pending

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

    def expire(self, interrupt_id: str, now: float | None = None) -> None:
        """The wait timed out: drop the pending item and audit the automatic rejection."""
        now = time.time() if now is None else now
        pending = self.store.get(interrupt_id)
        if pending is not None and self.store.expire(pending, now):
            self.analytics.add(interrupts_expired=1)
