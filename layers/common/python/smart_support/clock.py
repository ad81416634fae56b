"""Time helpers: the one place epoch seconds become ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch: float) -> str:
    """Epoch seconds -> ISO 8601 UTC with a Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
