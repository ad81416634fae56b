"""Streaming: posting events through @connections, following a reconnect, fanning out to watchers, coalescing tokens."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from smart_support import aws
from smart_support.protocol.events import answer_restart_event, dumps, token_event
from smart_support.protocol.types import MAX_FRAME_BYTES
from smart_support.store.dynamodb import StoreError

if TYPE_CHECKING:
    from types_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

    from smart_support.store.ports import SessionReader
    from smart_support.store.sessions import Session

logger = Logger(child=True)

MAX_TOKEN_CHARS = 6000  # a token frame stays far below 32 KiB even at 4 bytes per character
ENDS_OF_ANSWER = ("message_complete", "interrupt")


class Sender(Protocol):
    """Where events go: one connection at a time, False when it is gone."""

    def send(self, connection_id: str | None, payload: Mapping[str, object]) -> bool:
        """Post one event; False when the connection is gone (or there is none)."""


class ConnectionCloser(Protocol):
    """Closes a client's connection (API Gateway's DELETE @connections)."""

    def close(self, connection_id: str) -> None:
        """Close the connection; nothing if it is gone already."""


class EventSender:
    """Posts JSON events to connections; a client that left (GoneException) is reported, never raised."""

    def __init__(self, endpoint_url: str, client: ApiGatewayManagementApiClient | None = None) -> None:
        self._client = client or aws.client("apigatewaymanagementapi", endpoint_url=endpoint_url)

    def send(self, connection_id: str | None, payload: Mapping[str, object]) -> bool:
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

    def close(self, connection_id: str) -> None:
        """Close a connection (DELETE @connections/{id}); nothing if it is gone already."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if aws.error_code(exc) not in ("GoneException", "ForbiddenException"):
                raise


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def event_digest(payload: Mapping[str, object]) -> str:
    """A short fingerprint of a non-token event (to recognise it when a retried task produces it again)."""
    return hashlib.sha256(dumps(payload).encode("utf-8")).hexdigest()[:16]


class ThreadChannel:
    """Sends a thread's events to its *current* connection (following a reconnect) and to the operators watching.

    It remembers what it delivered (token text, digests of other events); a retried task hands it what the failed
    attempt delivered (`skip_delivered`), and whatever the client already has is not sent again. When the answer
    being streamed cannot go on from what the client has (a model call failed part-way and is asked again, or the
    retry words the answer differently), the client gets `answer_restart` and then the answer from its start.
    """

    RECHECK_SECONDS = 1.0
    WATCHERS_REFRESH_SECONDS = 3.0  # how late a watch that starts mid-turn begins to receive its events

    def __init__(
        self,
        sender: Sender,
        sessions: SessionReader,
        thread_id: str,
        connection_id: str | None,
        clock: Callable[[], float] = time.monotonic,
        watchers: Iterable[str] = (),
    ) -> None:
        self.sender = sender
        self.sessions = sessions
        self.thread_id = thread_id
        self.connection_id = connection_id
        self.watchers = list(watchers)
        self.frames_sent = 0
        self.watcher_frames_sent = 0
        self.delivered_text: list[str] = []
        self.delivered_events: list[str] = []
        self._clock = clock
        self._gone_since: float | None = None
        self._read_at = clock()
        self._skip_text = ""
        self._skip_events: list[str] = []
        # The answer being streamed (one client bubble: tokens of one agent with no other event between them).
        self._bubble_agent: str | None = None
        self._bubble_start = 0  # where its text begins in delivered_text
        self._bubble_text: list[str] = []  # its text as this attempt made it (sent, or skipped as delivered before)

    @classmethod
    def for_session(cls, sender: Sender, sessions: SessionReader, session: Session) -> ThreadChannel:
        """A channel to the session's customer connection and its live watchers."""
        return cls(
            sender, sessions, session.thread_id, session.connection_id, watchers=session.live_watchers(time.time())
        )

    def skip_delivered(self, text: str, events: list[str], whole: bool = False) -> None:
        """The client already has `text` (the start of the answer) and these events: never send them again.
        `whole`: that is the whole answer (the retry only ends the turn), so it has nothing to compare it with."""
        self._skip_events = list(events)
        if whole:
            self.delivered_text = [text] if text else []
            self._new_bubble(None)
        else:
            self._skip_text = text

    def send(self, payload: Mapping[str, object]) -> bool:
        """Deliver one event to the customer (True if it got it) and to the watchers; never raises for one that left."""
        if self._clock() - self._read_at >= self.WATCHERS_REFRESH_SECONDS:
            self._read_session()
        is_token = payload.get("type") == "token"
        if is_token:
            agent = payload.get("agent")
            if agent != self._bubble_agent:
                self._new_bubble(str(agent) if agent is not None else None)
            self._bubble_text.append(str(payload.get("content", "")))
        elif payload.get("type") in ENDS_OF_ANSWER and self._skip_text:
            self._retell()  # the failed attempt said more than this one: the client keeps this one's words
        unsent = self._unsent(payload)
        delivered = True if unsent is None else self._deliver_new(unsent)
        if not is_token:
            self._new_bubble(None)
        return delivered

    def _deliver_new(self, payload: Mapping[str, object]) -> bool:
        delivered = self._send_to_customer(payload)
        if delivered:
            if payload.get("type") == "token":
                self.delivered_text.append(str(payload.get("content", "")))
            else:
                self.delivered_events.append(event_digest(payload))
        self.send_to_watchers(payload)
        return delivered

    def _new_bubble(self, agent: str | None) -> None:
        self._bubble_agent = agent
        self._bubble_start = len(self.delivered_text)
        self._bubble_text = []

    def restart_answer(self) -> None:
        """The answer being streamed failed part-way and is asked for again: the client drops what it got of it."""
        if self._bubble_text:
            self._send_restart()
        del self.delivered_text[self._bubble_start :]
        self._bubble_text = []
        self._skip_text = ""  # what the client had beyond this answer is gone with it (the page reloads at the end)

    def _send_restart(self) -> None:
        restart = answer_restart_event(self.thread_id, self._bubble_agent)
        self._send_to_customer(restart)
        self.send_to_watchers(restart)

    def _retold(self) -> dict[str, object] | None:
        """Restart the client's answer and give it this attempt's words of it so far (None if there are none)."""
        self._skip_text = ""
        self._send_restart()
        del self.delivered_text[self._bubble_start :]
        text = "".join(self._bubble_text)
        return token_event(self.thread_id, text, self._bubble_agent or "") if text else None

    def _retell(self) -> None:
        retold = self._retold()
        if retold is not None:
            self._deliver_new(retold)

    def _unsent(self, payload: Mapping[str, object]) -> Mapping[str, object] | None:
        """The part of `payload` the client does not have yet (None: all of it was delivered before)."""
        if payload.get("type") == "token" and self._skip_text:
            content = str(payload.get("content", ""))
            common = _common_prefix(content, self._skip_text)
            if common == len(content):  # all of it was delivered before
                self._skip_text = self._skip_text[common:]
                self.delivered_text.append(content)
                return None
            if common == len(self._skip_text):  # the rest is new
                self.delivered_text.append(content[:common])
                self._skip_text = ""
                return {**payload, "content": content[common:]}
            return self._retold()  # a different answer this time: it starts over on the client
        if payload.get("type") != "token" and self._skip_events:
            digest = event_digest(payload)
            if digest in self._skip_events:
                self._skip_events.remove(digest)
                self.delivered_events.append(digest)
                return None
        return payload

    def send_to_watchers(self, payload: Mapping[str, object]) -> None:
        """Deliver one event to the operators watching the thread only; a watcher that left is forgotten."""
        for watcher in list(self.watchers):
            if watcher == self.connection_id:
                continue
            if self.sender.send(watcher, payload):
                self.watcher_frames_sent += 1
            else:  # the console left: stop watching for it
                self.watchers.remove(watcher)
                self._forget(watcher)

    def _send_to_customer(self, payload: Mapping[str, object]) -> bool:
        # Tokens to a client that left are dropped for a while (the answer is stored); any other event looks again
        # for a connection that re-attached, so a reload mid-answer still gets `message_complete`.
        recently_gone = self._gone_since is not None and self._clock() - self._gone_since < self.RECHECK_SECONDS
        if recently_gone and payload.get("type") == "token":
            return False
        if self._gone_since is None and self._deliver(payload):
            return True
        # The connection went away: the client may have reconnected and sent `resume`.
        previous = self.connection_id
        self._read_session()
        if self.connection_id and self.connection_id != previous and self._deliver(payload):
            self._gone_since = None
            return True
        self._gone_since = self._clock()
        return False

    def follow(self, connection_id: str | None) -> None:
        """Use a connection id learned elsewhere (e.g. from a session update)."""
        if connection_id and connection_id != self.connection_id:
            self.connection_id = connection_id
            self._gone_since = None

    def _read_session(self) -> None:
        """The latest customer connection and watchers (best effort: on failure keep what we know)."""
        self._read_at = self._clock()
        try:
            session = self.sessions.get(self.thread_id)
        except (ClientError, StoreError):
            logger.warning("could not re-read the session", extra={"thread_id": self.thread_id})
            return
        if session is None:
            return
        if session.connection_id:
            self.connection_id = session.connection_id
        live = getattr(session, "live_watchers", None)
        if live is not None:
            self.watchers = live(time.time())

    def _forget(self, watcher: str) -> None:
        try:
            self.sessions.remove_watcher(self.thread_id, watcher)
        except (ClientError, StoreError):
            logger.warning("could not forget a watcher", extra={"thread_id": self.thread_id})

    def _deliver(self, payload: Mapping[str, object]) -> bool:
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

    def discard(self) -> None:
        """Drop what is buffered, unsent (a failed model call's words)."""
        if self._buffer:
            del self.text[len(self.text) - len(self._buffer) :]
        self._buffer = []

    def flush(self) -> None:
        """Send what is buffered (split under the frame limit)."""
        if not self._buffer or self._agent is None:
            return
        text = "".join(self._buffer)
        self._buffer = []
        self._last_flush = self._clock()
        for start in range(0, len(text), MAX_TOKEN_CHARS):
            self.channel.send(token_event(self.channel.thread_id, text[start : start + MAX_TOKEN_CHARS], self._agent))
