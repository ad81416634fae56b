"""State machine tasks besides the agent: park a turn on an approval, report a failed turn."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from smart_support import aws
from smart_support.protocol.errors import InternalError
from smart_support.protocol.events import error_event
from smart_support.store.approvals import AlreadyFinal, PendingApproval
from smart_support.store.dynamodb import is_transient_failure
from smart_support.turns.models import AwaitApprovalTask, Decision, ReportFailureTask
from smart_support.turns.policy import args_hash, canonical_args
from smart_support.turns.streaming import Sender, ThreadChannel

if TYPE_CHECKING:
    from smart_support.store.ports import AnalyticsRepository, ApprovalRepository, SessionRepository

logger = Logger(child=True)


@contextlib.contextmanager
def transient_as_task_error() -> Iterator[None]:
    """Report AWS failing transiently past every retry under the name the state machine's Retry knows."""
    try:
        yield
    except Exception as exc:
        if is_transient_failure(exc):
            raise aws.TransientError(str(exc)) from exc
        raise


class WorkflowTasks:
    """The AwaitApproval and ReportFailure states' work."""

    def __init__(
        self,
        approvals: ApprovalRepository,
        sessions: SessionRepository,
        sender: Sender,
        analytics: AnalyticsRepository,
        approval_timeout_seconds: int,
    ) -> None:
        self.approvals = approvals
        self.sessions = sessions
        self.sender = sender
        self.analytics = analytics
        self.approval_timeout_seconds = approval_timeout_seconds

    def await_approval(self, task: AwaitApprovalTask, now: float | None = None) -> PendingApproval:
        """Store the pending approval with its task token, park the session, tell the customer."""
        now = time.time() if now is None else now
        info = task.interrupt
        args = canonical_args(info.args)
        pending = PendingApproval(
            interrupt_id=info.interrupt_id,
            thread_id=task.turn.thread_id,
            turn=task.turn.turn,
            owner=task.turn.owner,
            action=info.action,
            args=args,
            args_hash=args_hash(args),
            description=info.description,
            approver=info.approver,
            amount=info.amount,
            order_total=info.order_total,
            items=info.items,
            reason=info.reason,
            context=info.context,
            requested_at=now,
            deadline=now + self.approval_timeout_seconds,
            task_token=task.task_token,
        )
        with transient_as_task_error():  # a retry registers the new task token and tells the customer again
            try:
                self.approvals.register(pending)
            except AlreadyFinal as final:
                # One id, one decision, ever: asking again would let a second decision contradict the audit.
                logger.error(
                    "approval asked again after its decision",
                    extra={"interrupt_id": pending.interrupt_id, "outcome": final.record.get("outcome")},
                )
                raise
            session = self.sessions.mark_awaiting_approval(
                pending.thread_id, pending.turn, pending.interrupt_id, pending.deadline, now=now
            )
            if session is None or self.approvals.get(pending.interrupt_id) is None:
                # The turn moved on meanwhile (the wait timed out, or it was decided before this slow task got
                # here): nobody may be asked about it any more.
                logger.warning(
                    "approval closed before it was shown",
                    extra={"thread_id": pending.thread_id, "interrupt_id": pending.interrupt_id},
                )
                return pending
            ThreadChannel.for_session(self.sender, self.sessions, session).send(pending.interrupt_event())
        logger.info(
            "approval requested",
            extra={
                "thread_id": pending.thread_id,
                "interrupt_id": pending.interrupt_id,
                "action": pending.action,
                "approver": pending.approver,
            },
        )
        return pending

    def report_failure(self, task: ReportFailureTask) -> None:
        """Tell the client the turn failed (generic message) and return the thread to idle."""
        logger.error(
            "turn failed", extra={"thread_id": task.turn.thread_id, "turn": task.turn.turn, "failure": task.failure}
        )
        with transient_as_task_error():
            before = self.sessions.get(task.turn.thread_id)
            if before and before.turn == task.turn.turn and before.pending_interrupt_id:
                # The turn died with an approval open: nobody may decide it any more.
                pending = self.approvals.get(before.pending_interrupt_id)
                if pending is not None:
                    expired = Decision(approved=False, decided_by="timeout", outcome="expired")
                    self.approvals.finalize(pending.subject(), expired, time.time(), {"interrupts_expired": 1})
            session = self.sessions.finish_turn(task.turn.thread_id, task.turn.turn)
        if session is not None:
            channel = ThreadChannel.for_session(self.sender, self.sessions, session)
        else:
            channel = ThreadChannel(
                self.sender, self.sessions, task.turn.thread_id, task.turn.connection_id, watchers=task.turn.watchers
            )
        channel.send(
            error_event(
                InternalError("Sorry, something went wrong while answering; please try again."), task.turn.thread_id
            )
        )
        try:
            self.analytics.add(failed_turns=1)
        except Exception:  # the thread is idle and the client told; a lost count is not worth failing the task
            logger.exception("failed turn not counted")
