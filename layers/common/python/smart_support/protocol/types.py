"""The protocol's shared vocabulary: thread statuses, hand-off states, who may approve, who decided; frame limits."""

from __future__ import annotations

from typing import Literal

Status = Literal["idle", "running", "awaiting_approval", "with_operator"]
HandoffState = Literal["requested", "joined", "returned"]
Approver = Literal["customer", "operator"]
DecidedBy = Literal["customer", "operator", "timeout"]
Outcome = Literal["approved", "edited", "rejected", "withdrawn", "expired"]

MAX_FRAME_BYTES = 32 * 1024  # API Gateway WebSocket's frame limit
MAX_CONTENT_CHARS = 8000
THREAD_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"


def not_blank(value: str) -> str:
    """A message's content as given, refused when it is only whitespace (pydantic's AfterValidator)."""
    if not value.strip():
        raise ValueError("content must not be blank")
    return value
