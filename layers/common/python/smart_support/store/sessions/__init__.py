"""Sessions (one per thread) in the conversations table: ownership, status, sliding TTL.

`SessionStore` is the one object the rest of the package uses (it satisfies `store.ports.SessionRepository`); it
hands each call to the part that owns it, all over one `SessionTable`:

- `item`: the session item's key and model, what it remembers of the messages it took
- `ownership`: who owns a thread id (the record that outlives the session) and who may see it
- `start`: a turn begins (the session created or taken from idle), once per message
- `lifecycle`: the started turn's status until the end of its run, and a request to stop it
- `queue`: messages waiting behind the running turn, taken as the next turn
- `watchers`: the connections the thread's events go to
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from smart_support import aws
from smart_support.store.sessions.item import (
    DuplicateMessage,
    HeldByOperator,
    QueuedMessage,
    Session,
    content_digest,
    thread_key,
)
from smart_support.store.sessions.lifecycle import TurnLifecycle
from smart_support.store.sessions.ownership import ThreadOwnership
from smart_support.store.sessions.queue import MessageQueue, ThreadIdle
from smart_support.store.sessions.start import TurnStart
from smart_support.store.sessions.table import SessionTable
from smart_support.store.sessions.watchers import ThreadWatchers

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

    from smart_support.store.items import Item
    from smart_support.store.transcript import TranscriptEntry

# What the rest of the package takes from here; each part's own names are imported from its module.
__all__ = [
    "DuplicateMessage",
    "HeldByOperator",
    "QueuedMessage",
    "Session",
    "SessionStore",
    "ThreadIdle",
    "content_digest",
    "thread_key",
]


class SessionStore:
    """Data access for sessions; the only code that reads or writes session items."""

    def __init__(self, table_name: str, ttl_seconds: int, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self._dynamodb = dynamodb or aws.client("dynamodb")
        table = SessionTable(table_name, ttl_seconds, self._dynamodb)
        self._table = table
        self._ownership = ThreadOwnership(table)
        self._start = TurnStart(table, self._ownership)
        self._lifecycle = TurnLifecycle(table, self._ownership)
        self._queue = MessageQueue(table, self._ownership)
        self._watchers = ThreadWatchers(table)

    # ---------------------------------------------------------------- reads and ownership

    def get(self, thread_id: str) -> Session | None:
        """The session item, expired or not (None when absent)."""
        return self._table.get(thread_id)

    def get_visible(
        self, thread_id: str, principal_id: str, *, is_operator: bool = False, now: float | None = None
    ) -> Session:
        """The session if this principal may see it; NotFound otherwise, SessionExpired past its TTL."""
        return self._ownership.get_visible(thread_id, principal_id, is_operator=is_operator, now=now)

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Session]:
        """The owner's threads, most recently active first."""
        return self._ownership.list_for_owner(owner, limit)

    def check_owner(self, thread_id: str, principal_id: str, *, is_operator: bool = False) -> None:
        """NotFound unless the principal owns the thread (or is an operator), session or not: replay after the TTL."""
        self._ownership.check_owner(thread_id, principal_id, is_operator=is_operator)

    # ---------------------------------------------------------------- a turn's life

    def begin_turn(
        self,
        thread_id: str,
        owner: str,
        connection_id: str | None,
        message_id: str | None = None,
        now: float | None = None,
        title: str | None = None,
        content: str | None = None,
    ) -> Session:
        """Mark the thread running for a new turn (creating its session, owner permitting): TurnStart.begin_turn."""
        return self._start.begin_turn(thread_id, owner, connection_id, message_id, now, title, content)

    def mark_awaiting_approval(
        self, thread_id: str, turn: int, interrupt_id: str, approval_expires_at: float, now: float | None = None
    ) -> Session | None:
        """The turn waits for a human; the session lives at least until the approval resolves."""
        return self._lifecycle.mark_awaiting_approval(thread_id, turn, interrupt_id, approval_expires_at, now)

    def mark_running(
        self, thread_id: str, turn: int, interrupt_id: str, now: float | None = None, *, awaiting_only: bool = False
    ) -> Session | None:
        """A decision on `interrupt_id` arrived: the turn runs again (`awaiting_only`: if it still waits for it)."""
        return self._lifecycle.mark_running(thread_id, turn, interrupt_id, now, awaiting_only=awaiting_only)

    def request_cancel(self, thread_id: str, owner: str, now: float | None = None) -> Session:
        """Ask the running turn to stop (it checks while it streams); returns the session as it was."""
        return self._lifecycle.request_cancel(thread_id, owner, now)

    def cancel_requested(self, thread_id: str, turn: int) -> bool:
        """True once `cancel` asked this turn to stop."""
        return self._lifecycle.cancel_requested(thread_id, turn)

    def finish_turn(self, thread_id: str, turn: int, now: float | None = None) -> Session | None:
        """Back to idle after `turn` (sliding TTL); None if the thread moved on or is gone."""
        return self._lifecycle.finish_turn(thread_id, turn, now)

    def end_run(
        self,
        thread_id: str,
        turn: int,
        entries: list[TranscriptEntry],
        counters: dict[str, int],
        *,
        finished: bool,
        now: float,
        run: int | None = None,
    ) -> bool:
        """Store a run's transcript and counters (and, once finished, go idle) at once: TurnLifecycle.end_run."""
        return self._lifecycle.end_run(thread_id, turn, entries, counters, finished=finished, now=now, run=run)

    # ---------------------------------------------------------------- the queue

    def enqueue(
        self,
        thread_id: str,
        owner: str,
        content: str,
        message_id: str | None,
        transcript_item: Callable[[int], Item],
        now: float | None = None,
    ) -> Session:
        """Queue a message behind the running turn and store it in the transcript: MessageQueue.enqueue."""
        return self._queue.enqueue(thread_id, owner, content, message_id, transcript_item, now)

    def advance(
        self, thread_id: str, turn: int, now: float | None = None
    ) -> tuple[Session, list[QueuedMessage]] | None:
        """`turn` ended with messages queued: they become turn + 1, running (None if the thread moved on)."""
        return self._queue.advance(thread_id, turn, now)

    # ---------------------------------------------------------------- where the events go

    def attach_connection(self, thread_id: str, owner: str, connection_id: str, now: float | None = None) -> Session:
        """Send this thread's events to `connection_id` from now on (resume after reconnect)."""
        return self._watchers.attach_connection(thread_id, owner, connection_id, now)

    def add_watcher(
        self, thread_id: str, connection_id: str, now: float | None = None, until: int | None = None
    ) -> Session:
        """Send the thread's events to `connection_id` too (an operator watching), until `until` at the latest (the
        watcher's token expiry); lapsed watches are pruned."""
        return self._watchers.add_watcher(thread_id, connection_id, now, until)

    def remove_watcher(self, thread_id: str, connection_id: str) -> Session | None:
        """Stop sending the thread's events to `connection_id` (None when it was not watching)."""
        return self._watchers.remove_watcher(thread_id, connection_id)
