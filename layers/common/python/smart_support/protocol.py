"""The WebSocket protocol: client frames (validated), server events and the error frame."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError, field_validator

from smart_support.errors import InvalidJson, MessageTooLarge, SupportError, UnknownType, ValidationFailed

MAX_FRAME_BYTES = 32 * 1024
MAX_CONTENT_CHARS = 8000
THREAD_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"

ThreadId = Annotated[str, Field(pattern=THREAD_ID_PATTERN, strict=True)]
Status = Literal["idle", "running", "awaiting_approval"]
Approver = Literal["customer", "operator"]
DecidedBy = Literal["customer", "operator", "timeout"]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MessageFrame(_Frame):
    """Starts one agent turn."""

    type: Literal["message"]
    thread_id: ThreadId
    content: Annotated[str, Field(strict=True, min_length=1, max_length=MAX_CONTENT_CHARS)]
    message_id: Annotated[str, Field(strict=True, pattern=THREAD_ID_PATTERN)] | None = None

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be blank")
        return value


class InterruptResponseFrame(_Frame):
    """Decides the pending approval of a thread."""

    type: Literal["interrupt_response"]
    thread_id: ThreadId
    approved: StrictBool
    comment: Annotated[str, Field(strict=True, max_length=1000)] | None = None


class PingFrame(_Frame):
    """Keep-alive."""

    type: Literal["ping"]


class ResumeFrame(_Frame):
    """Re-attach a thread's events to this connection."""

    type: Literal["resume"]
    thread_id: ThreadId


ClientFrame = Annotated[MessageFrame | InterruptResponseFrame | PingFrame | ResumeFrame, Field(discriminator="type")]
_CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
FRAME_TYPES = ("message", "interrupt_response", "ping", "resume")


def parse_frame(body: str | bytes | None) -> ClientFrame:
    """Validate a raw frame: size first, then JSON, then type, then fields."""
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_FRAME_BYTES:
        raise MessageTooLarge(f"The frame is too large: {len(raw)} bytes, the limit is {MAX_FRAME_BYTES}.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson() from exc
    if not isinstance(data, dict):
        raise InvalidJson()
    frame_type = data.get("type")
    if frame_type not in FRAME_TYPES:
        shown = json.dumps(frame_type) if frame_type is not None else "(missing)"
        raise UnknownType(f"Unknown frame type {shown}; expected one of {', '.join(FRAME_TYPES)}.")
    try:
        return _CLIENT_FRAME.validate_python(data)
    except ValidationError as exc:
        raise ValidationFailed(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"][1:]) or str(error["loc"][0])
        parts.append(f"{field}: {error['msg']}")
    return "Invalid frame: " + "; ".join(parts)


# ---------------------------------------------------------------- server events


def event(event_type: str, thread_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A server->client event as a dict (None fields dropped)."""
    out: dict[str, Any] = {"type": event_type}
    if thread_id is not None:
        out["thread_id"] = thread_id
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def token_event(thread_id: str, content: str, agent: str) -> dict[str, Any]:
    """A chunk of the streamed answer."""
    return event("token", thread_id, content=content, agent=agent)


def tool_call_event(thread_id: str, tool: str, args: dict[str, Any], agent: str) -> dict[str, Any]:
    """The agent called a tool."""
    return event("tool_call", thread_id, tool=tool, args=args, agent=agent)


def message_complete_event(thread_id: str, turn: int | None = None) -> dict[str, Any]:
    """Exactly one per turn, after its last token."""
    return event("message_complete", thread_id, turn=turn)


def status_event(thread_id: str, status: Status, **fields: Any) -> dict[str, Any]:
    """The thread's status (answer to `resume`)."""
    return event("status", thread_id, status=status, **fields)


def error_event(error: SupportError, thread_id: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """The one place an exception becomes a WebSocket `error` frame."""
    return event("error", thread_id, code=error.code, message=error.message, request_id=request_id)


def dumps(payload: dict[str, Any]) -> str:
    """Compact JSON for a frame."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str)
