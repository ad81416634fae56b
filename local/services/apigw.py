"""API Gateway as the local stack deploys it: its stage and API ids, the limits and request times its events carry."""

from __future__ import annotations

import time
from datetime import UTC, datetime

STAGE = "local"
WEBSOCKET_API_ID = "localws"
HTTP_API_ID = "localhttp"
MAX_MESSAGE_BYTES = 128 * 1024  # a WebSocket message, and a @connections post


def now_ms() -> int:
    """Epoch milliseconds (requestTimeEpoch, timeEpoch)."""
    return int(time.time() * 1000)


def request_time() -> str:
    """The time as API Gateway writes it in requestTime and time (CLF format)."""
    return datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


__all__ = ["HTTP_API_ID", "MAX_MESSAGE_BYTES", "STAGE", "WEBSOCKET_API_ID", "now_ms", "request_time"]
