"""The next turn of a thread, made of the messages the customer queued while the last one ran."""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger

from smart_support.protocol.errors import InternalError
from smart_support.protocol.events import error_event
from smart_support.store.ports import SessionRepository
from smart_support.store.sessions import QueuedMessage, Session
from smart_support.turns.models import TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.streaming import Sender, ThreadChannel

logger = Logger(child=True)


def start_queued_turn(
    previous: TurnRequest,
    session: Session,
    queued: list[QueuedMessage],
    *,
    workflow: TurnWorkflow | None,
    sessions: SessionRepository,
    sender: Sender,
) -> None:
    """The messages that waited behind `previous` make the next turn: a new execution, as a message would.

    `session` is the thread already advanced to that turn (SessionRepository.advance); if the execution does not
    start, the thread goes back to idle and the customer is asked to send the message again.
    """
    contents = [q.content for q in queued]
    request = TurnRequest(
        thread_id=previous.thread_id,
        turn=session.turn,
        owner=previous.owner,
        content="\n\n".join(contents),
        connection_id=session.connection_id,
        message_id=session.last_message_id or None,
        started_at=time.time(),
        queued=contents,
        watchers=session.live_watchers(time.time()),
        incarnation=session.incarnation,
    )
    try:
        if workflow is None:
            raise RuntimeError("no workflow to start the queued turn with")
        workflow.start(request)
    except Exception:
        logger.exception("queued turn did not start", extra={"thread_id": request.thread_id, "turn": request.turn})
        sessions.finish_turn(request.thread_id, request.turn)
        failed = InternalError("Your next message could not be answered; please send it again.")
        ThreadChannel.for_session(sender, sessions, session).send(error_event(failed, request.thread_id))
        return
    logger.info("queued turn started", extra={"thread_id": request.thread_id, "turn": request.turn})
