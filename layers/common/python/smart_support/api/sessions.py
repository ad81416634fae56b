"""Session state and transcript replay: the owner or an operator."""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from smart_support import services
from smart_support.api.context import current_principal
from smart_support.clock import iso
from smart_support.protocol.frames import THREAD_ID_PATTERN

router = Router()
ThreadIdPath = Annotated[str, Path(pattern=THREAD_ID_PATTERN)]


@router.get("/sessions", summary="The caller's threads, most recent first")
def list_sessions() -> dict[str, Any]:
    """The caller's threads."""
    principal = current_principal(router)
    now = time.time()
    sessions = [s for s in services.sessions().list_for_owner(principal.sub) if not s.expired(now)]
    return {
        "sessions": [
            {
                "thread_id": s.thread_id,
                "title": s.title,
                "status": s.status,
                "turns": s.turn,
                "updated_at": s.updated_at,
                "expires_at": iso(s.expires_at),
            }
            for s in sessions
        ]
    }


@router.get("/sessions/<thread_id>", summary="Session state of one thread")
def get_session(thread_id: ThreadIdPath) -> dict[str, Any]:
    """Status, timestamps and the pending interrupt of a thread."""
    principal = current_principal(router)
    session = services.sessions().get_visible(thread_id, principal.sub, is_operator=principal.is_operator)
    pending = None
    if session.pending_interrupt_id:
        approval = services.approval_store().get(session.pending_interrupt_id)
        pending = approval.public() if approval else None
    return {
        "thread_id": session.thread_id,
        "status": session.status,
        "turns": session.turn,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "expires_at": iso(session.expires_at),
        "pending_interrupt": pending,
    }


@router.get("/sessions/<thread_id>/messages", summary="Replay: the ordered transcript of a thread")
def get_messages(thread_id: ThreadIdPath) -> dict[str, Any]:
    """Every stored entry of the thread, oldest first."""
    principal = current_principal(router)
    services.sessions().get_visible(thread_id, principal.sub, is_operator=principal.is_operator)
    return {"thread_id": thread_id, "messages": services.transcripts().messages(thread_id, time.time())}
