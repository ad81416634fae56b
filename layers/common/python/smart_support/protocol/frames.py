"""Client frames: size, JSON, type and field validation of everything a client sends."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, ValidationError

from smart_support.protocol.errors import InvalidJson, MessageTooLarge, UnknownType, ValidationFailed
from smart_support.protocol.types import MAX_CONTENT_CHARS, MAX_FRAME_BYTES, THREAD_ID_PATTERN, not_blank

ThreadId = Annotated[str, Field(pattern=THREAD_ID_PATTERN, strict=True)]


class _Frame(BaseModel):
    # defer_build: a frame type's validator is built when the first frame of that type arrives, not at cold start
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class MessageFrame(_Frame):
    """Starts one agent turn."""

    type: Literal["message"]
    thread_id: ThreadId
    content: Annotated[str, Field(strict=True, min_length=1, max_length=MAX_CONTENT_CHARS), AfterValidator(not_blank)]
    message_id: Annotated[str, Field(strict=True, pattern=THREAD_ID_PATTERN)] | None = None


class InterruptResponseFrame(_Frame):
    """Decides one approval of a thread: the one the `interrupt` event named, nothing else."""

    type: Literal["interrupt_response"]
    thread_id: ThreadId
    interrupt_id: Annotated[str, Field(strict=True, pattern=THREAD_ID_PATTERN)]
    approved: StrictBool
    comment: Annotated[str, Field(strict=True, max_length=1000)] | None = None


class PingFrame(_Frame):
    """Keep-alive."""

    type: Literal["ping"]


class CancelFrame(_Frame):
    """Stop the thread's running turn ("stop generating")."""

    type: Literal["cancel"]
    thread_id: ThreadId


class ResumeFrame(_Frame):
    """Re-attach a thread's events to this connection."""

    type: Literal["resume"]
    thread_id: ThreadId


class WatchFrame(_Frame):
    """Operators only: this connection also receives every event of the thread."""

    type: Literal["watch"]
    thread_id: ThreadId


class UnwatchFrame(_Frame):
    """Operators only: stop receiving the thread's events on this connection."""

    type: Literal["unwatch"]
    thread_id: ThreadId


AnyFrame = MessageFrame | InterruptResponseFrame | PingFrame | ResumeFrame | CancelFrame | WatchFrame | UnwatchFrame
ClientFrame = Annotated[AnyFrame, Field(discriminator="type")]


FRAME_MODELS: dict[str, type[AnyFrame]] = {
    "message": MessageFrame,
    "interrupt_response": InterruptResponseFrame,
    "ping": PingFrame,
    "resume": ResumeFrame,
    "cancel": CancelFrame,
    "watch": WatchFrame,
    "unwatch": UnwatchFrame,
}
FRAME_TYPES = tuple(FRAME_MODELS)


def parse_frame(body: str | bytes | None) -> ClientFrame:
    """Validate a raw frame: size first, then JSON, then type, then fields."""
    raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_FRAME_BYTES:
        raise MessageTooLarge(f"The frame is too large: {len(raw)} bytes, the limit is {MAX_FRAME_BYTES}.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise InvalidJson() from exc
    if not isinstance(data, dict):
        raise InvalidJson()
    frame_type = data.get("type")
    if frame_type not in FRAME_TYPES:
        shown = json.dumps(frame_type) if frame_type is not None else "(missing)"
        raise UnknownType(f"Unknown frame type {shown}; expected one of {', '.join(FRAME_TYPES)}.")
    try:
        return FRAME_MODELS[frame_type].model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "frame"
        parts.append(f"{field}: {error['msg']}")
    return "Invalid frame: " + "; ".join(parts)
