"""Deciding an approval exactly once and never half-done, with an audit that says what ran.

1. record: one decider at a time holds the pending approval and writes its audit record `accepted`, in one
   transaction (a failed write fails the decision: nothing reached the workflow, the approval is still pending);
2. SendTaskSuccess: Step Functions accepts one answer per task token, so the workflow is the arbiter;
3. finalize: the audit record `final`, the pending item gone, the counters, in one transaction. The resumed run
   finalizes with the decision the workflow actually resumed with, so the audit is corrected if that differs
   (the wait timed out first) and nothing is lost if this step fails here.

If SendTaskSuccess fails, the record is taken back: the approval is still pending and decidable, and no audit record
says approved; a token the workflow no longer knows means the wait ended (410) or another decision won (409).
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
from smart_support.protocol.types import Outcome
from smart_support.store.approvals import ApprovalBusy, AuditSubject, PendingApproval
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
        withdrawing: bool = False,
    ) -> tuple[PendingApproval, Decision]:
        """Decide a pending approval: visible to the principal, allowed by policy, exactly once, never half-done.

        Returns the approval and the decision the workflow resumes with. `withdrawing` (the owner stopped the turn)
        takes the request back, which the customer may do even where the policy leaves the decision to an operator.
        """
        now = time.time() if now is None else now
        lease_id = uuid.uuid4().hex
        waited_until = time.monotonic() + BUSY_WAIT_SECONDS
        while True:
            pending = self._decidable(interrupt_id, principal, approved, now, edited_args, withdrawing)
            decision = self._decision(pending, principal, approved, comment, edited_args, withdrawing)
            try:
                self.store.record(pending, decision, lease_id, now)
                self._deliver(pending, decision, lease_id)
                break
            except ApprovalBusy:  # another decider is delivering: the next look says how it ended
                if time.monotonic() > waited_until:
                    raise ApprovalAlreadyDecided("This approval is being decided by someone else.") from None
                time.sleep(0.1)
                now = time.time()
        # The workflow has the decision: make the record final. The resumed run does it too, so nothing is lost here.
        try:
            self.finalize(pending.subject(), decision, now=now)
        except Exception:
            logger.exception("audit finalized by the resumed run", extra={"interrupt_id": interrupt_id})
        try:
            self.sessions.mark_running(pending.thread_id, pending.turn, interrupt_id, now=now, awaiting_only=True)
        except Exception:  # the resumed run marks it running too
            logger.exception("session not marked running", extra={"thread_id": pending.thread_id})
        return pending, decision

    @staticmethod
    def _decision(
        pending: PendingApproval,
        principal: Principal,
        approved: bool,
        comment: str | None,
        edited_args: dict[str, Any] | None,
        withdrawing: bool,
    ) -> Decision:
        runs = apply_edits(pending.action, pending.args, edited_args, pending.order_total) if edited_args else None
        outcome: Outcome = "withdrawn" if withdrawing else "edited" if runs else "approved" if approved else "rejected"
        return Decision(
            approved=approved,
            decided_by="operator" if principal.is_operator else "customer",
            comment=comment,
            decided_by_id=principal.sub,
            interrupt_id=pending.interrupt_id,
            args_hash=pending.args_hash,
            edited_args=edited_args or None,
            outcome=outcome,
            args=(runs or pending.args) if approved else None,
        )

    def _deliver(self, pending: PendingApproval, decision: Decision, lease_id: str) -> None:
        """SendTaskSuccess with the recorded decision; on any failure the record is taken back and the error said."""
        try:
            self.workflow.send_decision(pending.task_token, decision)
        except ApprovalExpired:
            self.store.unrecord(pending, lease_id)
            latest = self.store.get(pending.interrupt_id)
            if latest is not None and latest.task_token != pending.task_token and latest.open_at(time.time()):
                # A retried AwaitApproval task holds a new token: the approval is still open, decide again.
                raise ApprovalBusy() from None
            if self._closed_by_decision(pending.interrupt_id):
                raise ApprovalAlreadyDecided("This approval was already decided.") from None
            raise ApprovalExpired("This approval has expired; nothing was changed.") from None
        except Exception:
            self.store.unrecord(pending, lease_id)  # still pending: this decider (or another) may try again
            raise

    def _decidable(
        self,
        interrupt_id: str,
        principal: Principal,
        approved: bool,
        now: float,
        edited_args: dict[str, Any] | None,
        withdrawing: bool = False,
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
        if withdrawing and (approved or pending.owner != principal.sub):
            raise Forbidden("Only the customer who asked may withdraw a request.")
        if not may_decide(pending.approver, principal.role) and not withdrawing:
            raise Forbidden("This request needs a support agent's approval; one will look at it shortly.")
        if pending.deadline <= now:
            raise ApprovalExpired("This approval has expired; nothing was changed.")
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
    ) -> tuple[PendingApproval, Decision]:
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

    def finalize(self, subject: AuditSubject, decision: Decision, now: float | None = None) -> bool:
        """Record the decision the workflow resumed with as final, and count it, once (False if already final)."""
        now = time.time() if now is None else now
        outcome = decision.resolved_outcome()
        counter = {
            "approved": "interrupts_approved",
            "edited": "interrupts_approved",
            "rejected": "interrupts_rejected",
            "withdrawn": "interrupts_rejected",
            "expired": "interrupts_expired",
        }[outcome]
        counters = {counter: 1, **({"interrupts_edited": 1} if outcome == "edited" else {})}
        return self.store.finalize(subject, decision, now, counters)

    def resolve(self, subject: AuditSubject, decision: Decision, now: float | None = None) -> Decision:
        """The workflow resumed with `decision` (a person's, or the timeout): the ledger says so, corrected if a
        decider's record lost to the timeout. Returns it complete (outcome, and the call that runs if approved)."""
        if decision.approved and decision.args is None:  # from a decider that predates canonical calls
            edits = decision.edited_args
            runs = apply_edits(subject.action, subject.args, edits, None) if edits else subject.args
            decision = decision.model_copy(update={"args": runs})
        decision = decision.model_copy(update={"outcome": decision.resolved_outcome()})
        self.finalize(subject, decision, now=now)
        return decision

    def record_result(self, interrupt_id: str, ran: bool, result: str) -> None:
        """What the decided write did (it may find the order changed since the approval): kept on the audit."""
        self.store.record_result(interrupt_id, ran, result)

    def expire(self, pending: PendingApproval, now: float | None = None) -> bool:
        """Nobody may decide it any more (the turn died): close it as expired, once."""
        return self.finalize(pending.subject(), Decision(approved=False, decided_by="timeout", outcome="expired"), now)
