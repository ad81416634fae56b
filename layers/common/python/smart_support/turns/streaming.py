"""Streaming to the client: posting events through @connections, following a reconnect, coalescing tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

from smart_support import aws
from smart_support.protocol.events import dumps, token_event
from smart_support.protocol.frames import MAX_FRAME_BYTES
from smart_support.store.ports import SessionReader

MAX_TOKEN_CHARS = 6000  # a token frame stays far below 32 KiB even at 4 bytes per character


class Sender(Protocol):
    """Where events go: one connection at a time, False when it is gone."""

    def send(self, connection_id: str | None, payload: dict[str, Any]) -> bool:
        """Post one event; False when the connection is gone (or there is none)."""


class EventSender:
    """Posts JSON events to connections; a client that left (GoneException) is reported, never raised."""

    def __init__(self, endpoint_url: str, client: Any = None) -> None:
        self._client = client or aws.client("apigatewaymanagementapi", endpoint_url=endpoint_url)

    def send(self, connection_id: str | None, payload: dict[str, Any]) -> bool:
        """Post one event; False when the connection is gone (or there is none)."""
        if not connection_id:
            return False
        data = dumps(payload).encode("utf-8")
        if len(data) > MAX_FRAME_BYTES:
            raise ValueError(f"event of {len(data)} bytes exceeds the frame limit")
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if aws.error_code(exc) in ("GoneException", "ForbiddenException"):
                return False
            raise
        return True


class ThreadChannel:
    """Sends a thread's events to its *current* connection, following the client when it reconnects."""

    RECHECK_SECONDS = 1.0

    def __init__(
        self,
        sender: Sender,
        sessions: SessionReader,
        thread_id: str,
        connection_id: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sender = sender
        self.sessions = sessions
        self.thread_id = thread_id
        self.connection_id = connection_id
        self.frames_sent = 0
        self._clock = clock
        self._gone_since: float | None = None

    def send(self, payload: dict[str, Any]) -> bool:
        """Deliver one event if the client is reachable; never raises for a client that left."""
        if self._gone_since is not None and self._clock() - self._gone_since < self.RECHECK_SECONDS:
            return False
        if self._gone_since is None and self._deliver(payload):
            return True
        # The connection went away: the client may have reconnected and sent `resume`.
        session = self.sessions.get(self.thread_id)
        latest = session.connection_id if session else None
        if latest and latest != self.connection_id:
            self.connection_id = latest
            if self._deliver(payload):
                self._gone_since = None
                return True
        self._gone_since = self._clock()
        return False

    def follow(self, connection_id: str | None) -> None:
        """Use a connection id learned elsewhere (e.g. from a session update)."""
        if connection_id and connection_id != self.connection_id:
            self.connection_id = connection_id
            self._gone_since = None

    def _deliver(self, payload: dict[str, Any]) -> bool:
        ok = self.sender.send(self.connection_id, payload)
        if ok:
            self.frames_sent += 1
        return ok


class TokenCoalescer:
    """Batches streamed tokens into few frames: the first goes at once, later ones per growing window."""

    def __init__(
        self,
        channel: ThreadChannel,
        flush_ms: int = 50,
        max_window_ms: int = 400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.flush_ms = flush_ms
        self.max_window_ms = max_window_ms
        self._clock = clock
        self._buffer: list[str] = []
        self._agent: str | None = None
        self._last_flush: float | None = None
        self._window_ms = float(flush_ms)
        self.text: list[str] = []

    def add(self, agent: str, content: str) -> None:
        """Queue a chunk; flush when the agent changes, the window passed or the frame would grow too big."""
        if not content:
            return
        if self._agent is not None and agent != self._agent:
            self.flush()
        self._agent = agent
        self._buffer.append(content)
        self.text.append(content)
        now = self._clock()
        if (
            self._last_flush is None
            or (now - self._last_flush) * 1000 >= self._window_ms
            or sum(len(c) for c in self._buffer) >= MAX_TOKEN_CHARS
        ):
            if self._last_flush is not None:
                self._window_ms = min(self._window_ms * 2, float(self.max_window_ms))
            self.flush()

    def flush(self) -> None:
        """Send what is buffered (split under the frame limit)."""
        if not self._buffer or self._agent is None:
            return
        text = "".join(self._buffer)
        self._buffer = []
        self._last_flush = self._clock()
        for start in range(0, len(text), MAX_TOKEN_CHARS):
            self.channel.send(token_event(self.channel.thread_id, text[start : start + MAX_TOKEN_CHARS], self._agent))
