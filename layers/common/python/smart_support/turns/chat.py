"""The WebSocket routes' domain: one frame in, at most one reply frame out (errors shaped here only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from smart_support.auth.tokens import Principal
from smart_support.clock import iso
from smart_support.protocol.errors import (
    ApprovalExpired,
    InternalError,
    NotFound,
    SupportError,
    ThreadBusy,
    TokenExpired,
)
from smart_support.protocol.events import error_event, event, status_event
from smart_support.protocol.frames import (
    CancelFrame,
    ClientFrame,
    InterruptResponseFrame,
    MessageFrame,
    PingFrame,
    ResumeFrame,
    UnwatchFrame,
    WatchFrame,
    parse_frame,
)
from smart_support.store.sessions import DuplicateMessage, HeldByOperator, Session, ThreadIdle
from smart_support.store.transcript import question_item, segment_item
from smart_support.turns.limits import Limits
from smart_support.turns.models import TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.streaming import ConnectionCloser, Sender

if TYPE_CHECKING:
    from smart_support.store.items import Item
    from smart_support.store.ports import ApprovalRepository, SessionRepository, TranscriptRepository
    from smart_support.store.transcript import TranscriptEntry
    from smart_support.turns.decisions import ApprovalService
    from smart_support.turns.handoff import HandoffService

logger = Logger(child=True)


def queued_item(frame: MessageFrame, turn: int) -> Item:
    """The transcript item of a queued message: stored at once, in order, as part of the next turn."""
    now = time.time()
    entry: TranscriptEntry = {
        "role": "user",
        "content": frame.content,
        "at": iso(now),
        "queued": True,
        "message_id": frame.message_id,
    }
    return segment_item(frame.thread_id, turn, int(now * 1000) % 10**13, [entry], now)


@dataclass(frozen=True)
class FrameContext:
    """Who sent a frame, on which connection, in which API Gateway request."""

    connection_id: str
    principal: Principal
    request_id: str


class ChatService:
    """Handles client frames: turns (or messages for the operator holding a thread), approvals, resume, watch, ping."""

    def __init__(
        self,
        sessions: SessionRepository,
        workflow: TurnWorkflow,
        approvals: Callable[[], ApprovalService],
        approval_store: Callable[[], ApprovalRepository],
        sender: Sender,
        transcripts: TranscriptRepository,
        handoff: Callable[[], HandoffService],
        limits: Limits | None = None,
        closer: ConnectionCloser | None = None,
    ) -> None:
        self.sessions = sessions
        self.workflow = workflow
        # What only some frames need (decisions, approvals, the hand-off) is built when the first of them arrives.
        self._approvals = approvals
        self._approval_store = approval_store
        self.sender = sender
        self.transcripts = transcripts
        self._handoff = handoff
        self.limits = limits
        self.closer = closer

    @cached_property
    def approvals(self) -> ApprovalService:
        """Approval decisions (interrupt_response, cancel while awaiting approval)."""
        return self._approvals()

    @cached_property
    def approval_store(self) -> ApprovalRepository:
        """Pending approvals (resent on resume)."""
        return self._approval_store()

    @cached_property
    def handoff(self) -> HandoffService:
        """Watching threads, and customers' messages while an operator holds the thread."""
        return self._handoff()

    def handle(self, body: str | None, ctx: FrameContext) -> dict[str, object] | None:
        """Process one raw frame; returns the reply frame (an `error` for every failure) or None."""
        thread_id: str | None = None
        try:
            if self.limits:  # every frame pays first, whatever it holds (docs/security.md, Abuse limits)
                self.limits.frame(ctx.principal.sub)
            if ctx.principal.expired(time.time()):
                return self.token_expired(ctx)
            frame = parse_frame(body)
            thread_id = getattr(frame, "thread_id", None)
            return self._dispatch(frame, ctx)
        except SupportError as exc:
            logger.info("frame rejected", extra={"code": exc.code, "thread_id": thread_id})
            return error_event(exc, thread_id)
        except Exception:
            logger.exception("frame failed", extra={"thread_id": thread_id, "request_id": ctx.request_id})
            return error_event(InternalError(), thread_id, request_id=ctx.request_id)

    def token_expired(self, ctx: FrameContext) -> dict[str, object] | None:
        """A frame after the token's `exp`: `token_expired`, and the socket is closed (the client reconnects with a
        new token). API Gateway keeps a connection open whatever its token says; the authorizer ran once, at
        $connect."""
        error = error_event(TokenExpired(), None)
        if self.closer is None:
            return error
        self.sender.send(ctx.connection_id, error)
        self.closer.close(ctx.connection_id)
        return None

    def _dispatch(self, frame: ClientFrame, ctx: FrameContext) -> dict[str, object] | None:
        if isinstance(frame, MessageFrame):
            return self.send_message(frame, ctx)
        if isinstance(frame, CancelFrame):
            return self.cancel(frame, ctx)
        if isinstance(frame, InterruptResponseFrame):
            self.approvals.decide_for_thread(
                frame.thread_id, frame.interrupt_id, ctx.principal, frame.approved, frame.comment
            )
            return None
        if isinstance(frame, ResumeFrame):
            return self.resume(frame, ctx)
        if isinstance(frame, PingFrame):
            return event("pong")
        if isinstance(frame, WatchFrame):
            return self.handoff.watch(frame.thread_id, ctx.principal, ctx.connection_id).status_event()
        if isinstance(frame, UnwatchFrame):
            return self.handoff.unwatch(frame.thread_id, ctx.principal, ctx.connection_id).status_event()
        raise AssertionError(f"unhandled frame {frame!r}")  # pragma: no cover - parse_frame is exhaustive

    def send_message(self, frame: MessageFrame, ctx: FrameContext) -> dict[str, object] | None:
        """Start a turn, queue the message behind the one that runs (answered `status` with `queued`), or, while an
        operator holds the thread, store it for them (answered `status` `with_operator`).

        A `message_id` the thread already took writes nothing: the same content (a retried frame) is answered with the
        thread's `status`, other content is `validation_error` (ValidationFailed, raised by the store).
        """
        if self.limits:
            self.limits.turn(ctx.principal.sub)
        for _ in range(3):  # a turn that ends (or a thread handed back) between two attempts: try again
            try:
                self.start_turn(frame, ctx)
                return None
            except DuplicateMessage as dup:
                return _repeated(dup.session)
            except HeldByOperator as held:
                return self._for_operator(held.session, frame, ctx)
            except ThreadBusy:
                pass
            try:
                session = self.sessions.enqueue(
                    frame.thread_id,
                    ctx.principal.sub,
                    frame.content,
                    frame.message_id,
                    lambda turn: queued_item(frame, turn),
                )
            except ThreadIdle:
                continue
            except HeldByOperator as held:
                return self._for_operator(held.session, frame, ctx)
            except DuplicateMessage as dup:
                return _repeated(dup.session)
            logger.info("message queued", extra={"thread_id": frame.thread_id, "queued": len(session.queued)})
            return status_event(session.thread_id, session.status, turn=session.turn, queued=len(session.queued))
        raise ThreadBusy()

    def _for_operator(self, session: Session, frame: MessageFrame, ctx: FrameContext) -> dict[str, object] | None:
        from smart_support.turns.handoff import StillHeld

        try:
            return self.handoff.customer_message(session, frame.content, frame.message_id, ctx.connection_id)
        except StillHeld:  # handed back to the AI in between: the message is a turn after all
            return self.send_message(frame, ctx)

    def cancel(self, frame: CancelFrame, ctx: FrameContext) -> dict[str, object] | None:
        """Stop the running turn (the agent stops streaming), or, while it waits for an approval, withdraw that
        request: the audit says `withdrawn` and the turn answers ("nothing was changed") and completes."""
        session = self.sessions.get_visible(frame.thread_id, ctx.principal.sub)
        if session.status == "awaiting_approval" and session.pending_interrupt_id:
            try:
                self.approvals.decide(session.pending_interrupt_id, ctx.principal, False, None, withdrawing=True)
                logger.info("approval withdrawn", extra={"thread_id": frame.thread_id, "turn": session.turn})
                return None
            except (ApprovalExpired, NotFound):
                pass  # decided or timed out meanwhile: the turn is resuming; stop its answer instead
        session = self.sessions.request_cancel(frame.thread_id, ctx.principal.sub)
        if session.status == "idle":
            return status_event(session.thread_id, "idle", turn=session.turn, queued=0)
        logger.info("turn cancel requested", extra={"thread_id": frame.thread_id, "turn": session.turn})
        return None

    def start_turn(self, frame: MessageFrame, ctx: FrameContext) -> str:
        """Mark the thread running, store the question, start its execution once (HeldByOperator: held by a person,
        DuplicateMessage: a message_id the thread already took, nothing written)."""
        now = time.time()
        session = self.sessions.begin_turn(
            frame.thread_id,
            ctx.principal.sub,
            ctx.connection_id,
            frame.message_id,
            now=now,
            title=" ".join(frame.content.split()),
            content=frame.content,
        )
        request = TurnRequest(
            thread_id=frame.thread_id,
            turn=session.turn,
            owner=session.owner,
            content=frame.content,
            connection_id=session.connection_id,
            message_id=frame.message_id,
            started_at=now,
            watchers=session.live_watchers(now),
            handoff_turn=_handoff_turn(session),
            incarnation=session.incarnation,
        )
        try:
            # Stored before the agent runs, so a reload mid-answer replays the question (the answer comes at the end).
            question: TranscriptEntry = {"role": "user", "content": frame.content, "at": iso(now)}
            if frame.message_id:
                question["message_id"] = frame.message_id
            self.transcripts.put(question_item(frame.thread_id, session.turn, question, now))
            name = self.workflow.start(request)
        except Exception:
            self.sessions.finish_turn(frame.thread_id, session.turn)
            raise
        logger.info("turn started", extra={"thread_id": frame.thread_id, "turn": session.turn, "execution": name})
        return name

    def resume(self, frame: ResumeFrame, ctx: FrameContext) -> dict[str, object]:
        """Send this thread's events here from now on; re-send a pending approval; reply with the status."""
        session = self.sessions.attach_connection(frame.thread_id, ctx.principal.sub, ctx.connection_id)
        if session.status == "awaiting_approval" and session.pending_interrupt_id:
            pending = self.approval_store.get(session.pending_interrupt_id)
            if pending is not None:
                self.sender.send(ctx.connection_id, pending.interrupt_event())
        return session.status_event()


def _repeated(session: Session) -> dict[str, object]:
    """A retried frame (same message_id, same content): nothing was written, the reply is the thread's status."""
    logger.info("repeated message acknowledged", extra={"thread_id": session.thread_id, "status": session.status})
    return session.status_event()


def _handoff_turn(session: Session) -> int | None:
    """The turn after which an operator talked with the customer, if that was right before this turn."""
    if session.context_turn is not None and session.context_turn == session.turn - 1:
        return session.context_turn
    return None
