"""Session state and transcript replay: the owner or an operator."""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from smart_support.api.dependencies import Approvals, Caller, PageCursor, Sessions, Transcripts
from smart_support.api.responses import (
    ApprovalView,
    SessionList,
    SessionState,
    SessionSummary,
    Transcript,
    documented,
)
from smart_support.clock import iso
from smart_support.protocol.types import THREAD_ID_PATTERN
from smart_support.store.transcript import REPLAY_PAGE, REPLAY_PAGE_MAX

router = Router()
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN)]


@router.get(
    "/sessions", summary="The caller's threads, most recent first", responses=documented("The caller's threads", 401)
)
def list_sessions(caller: Caller, sessions: Sessions) -> SessionList:
    """The caller's threads."""
    now = time.time()
    return SessionList(
        sessions=[
            SessionSummary(
                thread_id=s.thread_id,
                title=s.title,
                status=s.status,
                turns=s.turn,
                updated_at=s.updated_at,
                expires_at=iso(s.expires_at),
            )
            for s in sessions.list_for_owner(caller.sub)
            if not s.expired(now)
        ]
    )


@router.get(
    "/sessions/<thread_id>",
    summary="Session state of one thread",
    responses=documented("The thread's state", 401, 404, 410),
)
def get_session(thread_id: ThreadIdPath, caller: Caller, sessions: Sessions, approvals: Approvals) -> SessionState:
    """Status, timestamps, the pending interrupt and the hand-off (ticket, operator) of a thread."""
    session = sessions.get_visible(thread_id, caller.sub, is_operator=caller.is_operator)
    pending = None
    if session.pending_interrupt_id:
        approval = approvals.get(session.pending_interrupt_id)
        pending = ApprovalView.model_validate(approval.public()) if approval else None
    return SessionState(
        thread_id=session.thread_id,
        status=session.status,
        turns=session.turn,
        created_at=session.created_at,
        updated_at=session.updated_at,
        expires_at=iso(session.expires_at),
        pending_interrupt=pending,
        handoff=session.handoff,
        ticket_id=session.ticket_id,
        operator=session.operator_name if session.status == "with_operator" else None,
        operator_id=session.operator_id if caller.is_operator else None,
    )


@router.get(
    "/sessions/<thread_id>/messages",
    summary="Replay: the ordered transcript of a thread, paginated",
    responses=documented("The transcript, oldest first, a page at a time", 401, 404, 410, 422),
)
def get_messages(
    thread_id: ThreadIdPath,
    caller: Caller,
    sessions: Sessions,
    transcripts: Transcripts,
    limit: Annotated[int, Query(ge=1, le=REPLAY_PAGE_MAX)] = REPLAY_PAGE,
    cursor: PageCursor = None,
) -> Transcript:
    """Up to `limit` stored entries, oldest first (as long as they are kept, also after the session expired).

    `next_cursor` fetches the rest (null at the end).
    """
    sessions.check_owner(thread_id, caller.sub, is_operator=caller.is_operator)
    entries, next_cursor = transcripts.page(thread_id, time.time(), limit, cursor)
    return Transcript.model_validate({"thread_id": thread_id, "messages": entries, "next_cursor": next_cursor})
