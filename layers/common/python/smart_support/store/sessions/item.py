"""A thread's session item: its key, its model, and what it remembers of the messages it took."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from smart_support.protocol.errors import ValidationFailed
from smart_support.protocol.events import status_event
from smart_support.protocol.types import HandoffState, Status
from smart_support.store import items

if TYPE_CHECKING:
    from smart_support.store.items import Item

# message_ids a thread remembers (with a digest of their content) once their turn started, so that a repeated frame
# writes nothing; bounded: the oldest is forgotten, the item never grows with the conversation.
RECENT_MESSAGES = 8


def thread_key(thread_id: str) -> Item:
    """Primary key of a thread's session item."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": "SESSION"}}


def content_digest(content: str) -> str:
    """A short digest of a message's content: tells a retried frame from another message reusing its message_id."""
    return hashlib.sha256(content.encode()).hexdigest()[:16]


class RecentMessage(BaseModel):
    """A message_id the thread took (its turn began, or an operator received it) and the digest of its content."""

    message_id: str
    digest: str


class QueuedMessage(BaseModel):
    """A message the customer sent while a turn ran: it is part of the next turn."""

    content: str
    message_id: str | None = None
    at: str


class Session(BaseModel):
    """A thread's session item."""

    thread_id: str
    owner: str
    status: Status = "idle"
    turn: int = 0
    connection_id: str | None = None
    created_at: str
    updated_at: str
    expires_at: int
    pending_interrupt_id: str | None = None
    last_interrupt_id: str | None = None
    last_message_id: str | None = None
    title: str | None = None
    queued: list[QueuedMessage] = Field(default_factory=list)
    queued_ids: list[str] = Field(default_factory=list)
    recent_messages: list[RecentMessage] = Field(default_factory=list)
    cancel_turn: int | None = None
    # Human hand-off: the thread's open ticket, the operator holding it, the turn after which the model has not yet
    # seen the exchange, and the operator connections watching it (connection id -> epoch when the watch lapses).
    ticket_id: str | None = None
    operator_id: str | None = None
    operator_name: str | None = None
    held_since: str | None = None
    context_turn: int | None = None
    watchers: dict[str, int] = Field(default_factory=dict)
    incarnation: str = ""
    owner_until: int = 0

    def expired(self, now: float) -> bool:
        """True once the TTL passed (DynamoDB deletes lazily, so every read checks)."""
        return self.expires_at <= now

    @property
    def handoff(self) -> HandoffState | None:
        """`joined` while an operator holds the thread, `requested` while its ticket waits, else None."""
        if self.status == "with_operator":
            return "joined"
        return "requested" if self.ticket_id else None

    def live_watchers(self, now: float) -> list[str]:
        """The connections watching this thread whose watch has not lapsed."""
        return sorted(conn for conn, until in self.watchers.items() if until > now)

    def status_event(self) -> dict[str, object]:
        """The thread's `status` event, with its hand-off: the operator holding it, its open ticket, its queue."""
        return status_event(
            self.thread_id,
            self.status,
            turn=self.turn,
            handoff=self.handoff,
            ticket_id=self.ticket_id,
            operator=self.operator_name if self.status == "with_operator" else None,
            queued=len(self.queued),
        )

    def is_repeat(self, message_id: str | None, content: str | None) -> bool:
        """True when the thread already took `message_id` with this content (a retried frame: write nothing, say the
        status); ValidationFailed when it took it with other content; False for a new message_id (or none)."""
        if not message_id:
            return False
        digest = self._digest_of(message_id)
        if digest is None:
            return False
        if digest and content is not None and digest != content_digest(content):
            raise ValidationFailed(
                f"message_id {message_id} was already used for a different message; send a new message_id."
            )
        return True

    def _digest_of(self, message_id: str) -> str | None:
        """The digest of what the thread took as `message_id`: "" when its content is unknown, None for a new id."""
        for queued in self.queued:
            if queued.message_id == message_id:
                return content_digest(queued.content)
        for recent in self.recent_messages:
            if recent.message_id == message_id:
                return recent.digest
        return "" if message_id == self.last_message_id else None  # stored before the digests were

    def remembering(self, *messages: tuple[str, str]) -> list[dict[str, str]]:
        """The recent message ids with these (message_id, digest) added, newest last, at most RECENT_MESSAGES."""
        added = {message_id for message_id, _ in messages}
        kept = [recent for recent in self.recent_messages if recent.message_id not in added]
        fresh = [RecentMessage(message_id=message_id, digest=digest) for message_id, digest in messages]
        return [recent.model_dump() for recent in [*kept, *fresh][-RECENT_MESSAGES:]]

    def recent_condition(self) -> tuple[str, dict[str, object]]:
        """A condition that holds while the item's recent message ids are still the ones read here (and its values)."""
        if "recent_messages" in self.model_fields_set:
            return "recent_messages = :seen", {":seen": [recent.model_dump() for recent in self.recent_messages]}
        return "attribute_not_exists(recent_messages)", {}

    def held_by(self, operator_id: str) -> bool:
        """True when `operator_id` holds the thread."""
        return self.status == "with_operator" and self.operator_id == operator_id

    @classmethod
    def from_item(cls, item: Item) -> Session:
        """Build from a DynamoDB item."""
        values = items.from_item(item) or {}
        return cls.model_validate(values)


class DuplicateMessage(Exception):
    """The frame repeats a message the thread already took (same message_id, same content): nothing is written."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.thread_id)
        self.session = session


class HeldByOperator(Exception):
    """The thread is with an operator: the customer's message goes to them, no turn starts."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.thread_id)
        self.session = session
