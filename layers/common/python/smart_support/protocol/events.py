"""Server events: the frames the server sends, and the one place an error becomes an `error` frame."""

from __future__ import annotations

import json
from collections.abc import Mapping

from smart_support.protocol.errors import SupportError
from smart_support.protocol.types import HandoffState, Status


def event(event_type: str, thread_id: str | None = None, **fields: object) -> dict[str, object]:
    """A server->client event as a JSON object (None fields dropped): its fields are typed where they are built."""
    out: dict[str, object] = {"type": event_type}
    if thread_id is not None:
        out["thread_id"] = thread_id
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def token_event(thread_id: str, content: str, agent: str) -> dict[str, object]:
    """A chunk of the streamed answer."""
    return event("token", thread_id, content=content, agent=agent)


def answer_restart_event(thread_id: str, agent: str | None) -> dict[str, object]:
    """The answer being streamed starts over: drop what arrived of it; the tokens that follow replace it."""
    return event("answer_restart", thread_id, agent=agent)


def tool_call_event(thread_id: str, tool: str, args: Mapping[str, object], agent: str) -> dict[str, object]:
    """The agent called a tool."""
    return event("tool_call", thread_id, tool=tool, args=args, agent=agent)


def message_complete_event(
    thread_id: str,
    turn: int | None = None,
    cancelled: bool = False,
    citations: list[dict[str, str]] | None = None,
) -> dict[str, object]:
    """Exactly one per turn, after its last token (`cancelled: true` when `cancel` ended it; `citations`, the
    help-center articles the turn searched, `[{title, url}]`, when there are any)."""
    return event(
        "message_complete", thread_id, turn=turn, cancelled=True if cancelled else None, citations=citations or None
    )


def status_event(thread_id: str, status: Status, **fields: object) -> dict[str, object]:
    """The thread's status (answer to `resume` and `watch`, and to a `message` an operator receives)."""
    return event("status", thread_id, status=status, **fields)


def handoff_event(
    thread_id: str, state: HandoffState, ticket_id: str | None, operator: str | None = None, **fields: object
) -> dict[str, object]:
    """A person was asked for (`requested`), took the thread (`joined`), or handed it back to the AI (`returned`)."""
    return event("handoff", thread_id, state=state, ticket_id=ticket_id, operator=operator, **fields)


def operator_message_event(thread_id: str, message_id: str, content: str, operator: str, at: str) -> dict[str, object]:
    """A human operator speaks in the thread."""
    return event("operator_message", thread_id, message_id=message_id, content=content, operator=operator, at=at)


def customer_message_event(thread_id: str, message_id: str, content: str, at: str) -> dict[str, object]:
    """To watching operators: what the customer wrote while an operator holds the thread."""
    return event("customer_message", thread_id, message_id=message_id, content=content, at=at)


def error_event(error: SupportError, thread_id: str | None = None, request_id: str | None = None) -> dict[str, object]:
    """The one place an exception becomes a WebSocket `error` frame."""
    return event("error", thread_id, code=error.code, message=error.message, request_id=request_id)


def dumps(payload: Mapping[str, object]) -> str:
    """Compact JSON for a frame."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
