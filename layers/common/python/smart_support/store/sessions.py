"""Sessions (one per thread) in the conversations table: ownership, status, sliding TTL."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from smart_support import aws
from smart_support.clock import iso
from smart_support.protocol.errors import NotFound, SessionExpired, ThreadBusy, ValidationFailed
from smart_support.protocol.events import status_event
from smart_support.protocol.types import HandoffState, Status
from smart_support.store import analytics, items
from smart_support.store.dynamodb import (
    ConditionFailed,
    StoreError,
    TransactionCancelled,
    conditional_write,
    transact_write,
)
from smart_support.store.transcript import TRANSCRIPT_RETENTION_SECONDS, segment_item

logger = Logger(child=True)

DAY = 24 * 3600
# The ownership record outlives every transcript item the thread writes; refreshed when less than that is left.
OWNER_RETENTION_SECONDS = TRANSCRIPT_RETENTION_SECONDS + 2 * DAY
OWNER_REFRESH_SECONDS = TRANSCRIPT_RETENTION_SECONDS + DAY


def thread_key(thread_id: str) -> dict[str, Any]:
    """Primary key of a thread's session item."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": "SESSION"}}


def owner_key(thread_id: str) -> dict[str, Any]:
    """Primary key of a thread's ownership record (kept as long as its transcript)."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": "OWNER"}}


def new_incarnation(now: float) -> str:
    """A new conversation incarnation's id: sortable by creation time, unique."""
    return f"{int(now * 1000):011x}{secrets.token_hex(3)}"


MAX_QUEUED = 3  # messages that may wait behind a running turn; the next one is thread_busy
# message_ids a thread remembers (with a digest of their content) once their turn started, so that a repeated frame
# writes nothing; bounded: the oldest is forgotten, the item never grows with the conversation.
RECENT_MESSAGES = 8


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

    def status_event(self) -> dict[str, Any]:
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

    def recent_condition(self) -> tuple[str, dict[str, Any]]:
        """A condition that holds while the item's recent message ids are still the ones read here (and its values)."""
        if "recent_messages" in self.model_fields_set:
            return "recent_messages = :seen", {":seen": [recent.model_dump() for recent in self.recent_messages]}
        return "attribute_not_exists(recent_messages)", {}

    def held_by(self, operator_id: str) -> bool:
        """True when `operator_id` holds the thread."""
        return self.status == "with_operator" and self.operator_id == operator_id

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Session:
        """Build from a DynamoDB item."""
        values = items.from_item(item) or {}
        return cls.model_validate(values)


class ThreadIdle(Exception):
    """The thread is idle: a message starts a turn rather than waiting in the queue."""


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


MAX_WATCHERS = 10  # operator connections watching one thread at once
WATCH_SECONDS = 2 * 3600  # a watch lapses with API Gateway's connection limit (the console watches again)


class TooManyWatchers(ThreadBusy):
    default_message = f"{MAX_WATCHERS} connections already watch this conversation."


@dataclass(frozen=True)
class _Start:
    """A message that would begin a turn: who sends it, on which connection, its message_id and content."""

    owner: str
    connection_id: str | None
    message_id: str | None
    content: str | None
    now: float

    @property
    def digest(self) -> str:
        """The digest remembered with its message_id ("" when the content is not known)."""
        return content_digest(self.content) if self.content is not None else ""


class SessionStore:
    """Data access for sessions; the only code that reads or writes session items."""

    def __init__(self, table_name: str, ttl_seconds: int, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def get(self, thread_id: str) -> Session | None:
        """The session item, expired or not (None when absent)."""
        response = self._dynamodb.get_item(TableName=self.table_name, Key=thread_key(thread_id), ConsistentRead=True)
        item = response.get("Item")
        return Session.from_item(item) if item else None

    def get_visible(
        self, thread_id: str, principal_id: str, *, is_operator: bool = False, now: float | None = None
    ) -> Session:
        """The session if this principal may see it; NotFound otherwise, SessionExpired past its TTL."""
        now = time.time() if now is None else now
        session = self.get(thread_id)
        if session is None or (session.owner != principal_id and not is_operator):
            raise NotFound("No conversation with that id.")
        if session.expired(now):
            raise SessionExpired()
        return session

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
        """Mark the thread running for a new turn (creating its session, owner permitting); returns the new state.

        An existing session is read, then takes one conditional update. A new one (a new thread, or one whose session
        DynamoDB's TTL deleted) is created in a transaction with the thread's ownership record, which outlives the
        session as long as the transcript (only the owner may start a thread id again) and with its count in the
        analytics. Each start is a new incarnation; its turns continue after the turns the kept transcript already has.

        A `message_id` the thread took recently (queued, or one of its last RECENT_MESSAGES) writes nothing:
        DuplicateMessage when `content` is the same, ValidationFailed when it differs. The new one is remembered with
        a digest of `content`.
        """
        now = time.time() if now is None else now
        start = _Start(owner, connection_id, message_id, content, now)
        for _ in range(3):  # a session created, changed or deleted concurrently: read it again
            current = self.get(thread_id)
            session = self._create(thread_id, start, title) if current is None else self._continue(current, start)
            if session is not None:
                if session.owner_until - now < OWNER_REFRESH_SECONDS:
                    self._refresh_owner(thread_id, owner, now)
                return session
        raise ThreadBusy()

    def _start_update(
        self,
        thread_id: str,
        start: _Start,
        title: str | None,
        condition: str,
        base_turn: int = 0,
        recent: list[dict[str, str]] | None = None,
        condition_values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        owner, connection_id, message_id, now = start.owner, start.connection_id, start.message_id, start.now
        stamp = iso(now)
        values: dict[str, Any] = {
            ":owner": owner,
            ":running": "running",
            ":zero": base_turn,
            ":one": 1,
            ":stamp": stamp,
            ":exp": int(now) + self.ttl_seconds,
            ":gsi": f"OWNER#{owner}",
            ":tid": thread_id,
            ":conn": connection_id or "",
            ":mid": message_id or "",
            ":title": (title or thread_id)[:80],
            ":inc": new_incarnation(now),
            ":until": int(now) + OWNER_RETENTION_SECONDS,
        }
        if ":idle" in condition:
            values.update({":idle": "idle", ":now": int(now)})
        values.update(condition_values or {})
        remember = ""
        if recent is not None:
            remember, values[":recent"] = ", recent_messages = :recent", recent
        return {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": (
                "SET #status = :running, turn = if_not_exists(turn, :zero) + :one, #owner = :owner,"
                " thread_id = :tid, created_at = if_not_exists(created_at, :stamp), updated_at = :stamp,"
                " title = if_not_exists(title, :title), incarnation = if_not_exists(incarnation, :inc),"
                " owner_until = if_not_exists(owner_until, :until),"
                " expires_at = :exp, connection_id = :conn, last_message_id = :mid,"
                f" GSI1PK = :gsi, GSI1SK = :stamp{remember} REMOVE pending_interrupt_id, last_interrupt_id"
            ),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
            "ExpressionAttributeValues": items.to_values(values),
        }

    def _continue(self, current: Session, start: _Start) -> Session | None:
        """The next turn of the session read as `current`; None when it changed or vanished meanwhile (read again)."""
        blocked = self._why_not(current, start)
        if blocked is not None:
            raise blocked
        condition = "attribute_exists(PK) AND #owner = :owner AND #status = :idle AND expires_at > :now"
        recent: list[dict[str, str]] | None = None
        seen: dict[str, Any] = {}
        if start.message_id:  # the ids it remembers are still those read (a concurrent frame may have taken this one)
            recent = current.remembering((start.message_id, start.digest))
            unchanged, seen = current.recent_condition()
            condition += f" AND {unchanged}"
        update = self._start_update(current.thread_id, start, None, condition, recent=recent, condition_values=seen)
        try:
            response = conditional_write(self._dynamodb.update_item, **update, ReturnValues="ALL_NEW")
        except ConditionFailed as failed:
            if not failed.old:
                return None
            blocked = self._why_not(Session.from_item(failed.old), start)
            if blocked is not None:
                raise blocked from failed
            return None
        return Session.from_item(response["Attributes"])

    def _create(self, thread_id: str, start: _Start, title: str | None) -> Session | None:
        """A new session (a new incarnation) and the owner's claim on the thread id, in one transaction."""
        owner, now = start.owner, start.now
        base_turn = self._last_stored_turn(thread_id)
        recent = (
            [RecentMessage(message_id=start.message_id, digest=start.digest).model_dump()] if start.message_id else None
        )
        update = self._start_update(thread_id, start, title, "attribute_not_exists(PK)", base_turn, recent=recent)
        writes = [
            {"Update": self._owner_update(thread_id, owner, now)},
            {"Update": update},
            {"Update": analytics.counters_update(self.table_name, {"sessions": 1})},
        ]
        try:
            transact_write(self._dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed_at(0):
                raise NotFound("No conversation with that id.") from cancelled
            if cancelled.failed_at(1):
                return None  # another request created the session first: continue it instead
            raise
        return self.get(thread_id)

    def _last_stored_turn(self, thread_id: str) -> int:
        """The last turn the kept transcript has (0 for none): a new incarnation's turns continue after it."""
        response = self._dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :turn)",
            ExpressionAttributeValues=items.to_values({":pk": f"THREAD#{thread_id}", ":turn": "TURN#"}),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        latest = items.from_item((response.get("Items") or [None])[0]) or {}
        return int(latest.get("turn", 0))

    def _owner_update(self, thread_id: str, owner: str, now: float) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "Key": owner_key(thread_id),
            "UpdateExpression": "SET #owner = :owner, thread_id = :tid, expires_at = :until",
            "ConditionExpression": "attribute_not_exists(PK) OR #owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": items.to_values(
                {":owner": owner, ":tid": thread_id, ":until": int(now) + OWNER_RETENTION_SECONDS}
            ),
        }

    def _refresh_owner(self, thread_id: str, owner: str, now: float) -> None:
        """Keep the ownership record as long as the transcript a long-lived session keeps writing (best effort)."""
        session = {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": "SET owner_until = :until",
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": items.to_values(
                {":owner": owner, ":until": int(now) + OWNER_RETENTION_SECONDS}
            ),
        }
        try:
            transact_write(self._dynamodb, [{"Update": self._owner_update(thread_id, owner, now)}, {"Update": session}])
        except (TransactionCancelled, StoreError):
            logger.warning("ownership record not refreshed", extra={"thread_id": thread_id}, exc_info=True)

    def check_owner(self, thread_id: str, principal_id: str, *, is_operator: bool = False) -> None:
        """NotFound unless the principal owns the thread (or is an operator), session or not: replay after the TTL."""
        if is_operator:
            return
        response = self._dynamodb.get_item(TableName=self.table_name, Key=owner_key(thread_id), ConsistentRead=True)
        record = items.from_item(response.get("Item")) or {}
        if record.get("owner") != principal_id or record.get("expires_at", 0) <= time.time():
            raise NotFound("No conversation with that id.")

    @staticmethod
    def _why_not(session: Session, start: _Start) -> Exception | None:
        """Why `start` may not begin a turn on `session` as it is (None: it may). ValidationFailed (raised) for a
        message_id the thread took with other content."""
        if session.owner != start.owner:
            return NotFound("No conversation with that id.")
        if session.expired(start.now):
            return SessionExpired()
        if session.is_repeat(start.message_id, start.content):
            return DuplicateMessage(session)
        if session.status == "with_operator":
            return HeldByOperator(session)
        if session.status != "idle":
            return ThreadBusy()
        return None

    def finish_turn(self, thread_id: str, turn: int, now: float | None = None) -> Session | None:
        """Back to idle after `turn` (sliding TTL); None if the thread moved on or is gone."""
        return self._apply(self._finish_update(thread_id, turn, time.time() if now is None else now))

    def end_run(
        self,
        thread_id: str,
        turn: int,
        entries: list[dict[str, Any]],
        counters: dict[str, int],
        *,
        finished: bool,
        now: float,
        run: int | None = None,
    ) -> bool:
        """Store a run's transcript and counters and, once the turn `finished`, return the thread to idle: one
        transaction. False when the thread had moved on (a newer turn owns it): transcript and counters are kept.

        The transcript segment is written only if absent, so a retried task that finds it (an earlier attempt whose
        answer was lost wrote everything) changes nothing. Conflicts and throttling are retried; a cancellation that
        outlasts the retries is raised (TransactionCancelled, `transient`), never taken for "the thread moved on".
        """
        run = int(now * 1000) % 10**13 if run is None else run
        segment = segment_item(thread_id, turn, run, entries, now)
        put = {"TableName": self.table_name, "Item": segment, "ConditionExpression": "attribute_not_exists(PK)"}
        writes: list[dict[str, Any]] = [{"Put": put}]
        if counters:
            writes.append({"Update": analytics.counters_update(self.table_name, counters)})
        if finished:
            writes.append({"Update": self._finish_update(thread_id, turn, now)})
        try:
            transact_write(self._dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed_at(0):  # an earlier attempt wrote it all; is the thread idle (or still queued)?
                logger.info("transcript already written by an earlier attempt", extra={"thread_id": thread_id})
                session = self.get(thread_id)
                return not finished or session is None or session.turn != turn or session.status == "idle"
            if not finished or not cancelled.failed_at(len(writes) - 1):
                raise
            transact_write(self._dynamodb, writes[:-1])
            return False
        return True

    def _finish_update(self, thread_id: str, turn: int, now: float) -> dict[str, Any]:
        """The Update that returns the thread to idle after `turn` (alone, or inside a transaction)."""
        update = self._turn_update(
            thread_id,
            turn,
            "SET #status = :idle, updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp"
            " REMOVE pending_interrupt_id, cancel_turn",
            {":idle": "idle", ":stamp": iso(now), ":exp": int(now) + self.ttl_seconds},
        )
        # A message queued meanwhile makes the next turn instead (see advance()).
        update["ConditionExpression"] += " AND (attribute_not_exists(queued) OR size(queued) = :none)"
        update["ExpressionAttributeValues"][":none"] = {"N": "0"}
        return update

    def enqueue(
        self,
        thread_id: str,
        owner: str,
        content: str,
        message_id: str | None,
        transcript_item: Callable[[int], dict[str, Any]],
        now: float | None = None,
    ) -> Session:
        """Queue a message behind the running turn and store it in the transcript, in one transaction.

        Raises ThreadBusy when MAX_QUEUED already wait, DuplicateMessage (same content) or ValidationFailed (other
        content) for a message_id the thread already took, NotFound / SessionExpired as begin_turn does, and
        ThreadIdle when the turn ended meanwhile (start a turn instead).
        """
        now = time.time() if now is None else now
        session = self.get_visible(thread_id, owner, now=now)
        if session.is_repeat(message_id, content):
            raise DuplicateMessage(session)
        if session.status == "idle":
            raise ThreadIdle()
        if session.status == "with_operator":  # taken over meanwhile: the message goes to the operator
            raise HeldByOperator(session)
        if len(session.queued) >= MAX_QUEUED:
            raise ThreadBusy("Three messages are already waiting for this answer; please wait a moment.")
        queued = QueuedMessage(content=content, message_id=message_id, at=iso(now))
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": "SET queued = list_append(if_not_exists(queued, :empty), :one),"
            " queued_ids = list_append(if_not_exists(queued_ids, :empty), :mids), updated_at = :stamp,"
            " expires_at = if_not_exists(expires_at, :exp)",
            "ConditionExpression": "#owner = :owner AND turn = :turn AND #status IN (:running, :awaiting)"
            " AND expires_at > :now"
            " AND (attribute_not_exists(queued) OR size(queued) < :max)"
            + (" AND NOT contains(queued_ids, :mid)" if message_id else ""),
            "ExpressionAttributeNames": {"#owner": "owner", "#status": "status"},
            "ExpressionAttributeValues": items.to_values(
                {
                    ":empty": [],
                    ":one": [queued.model_dump()],
                    ":mids": [message_id] if message_id else [],
                    ":stamp": iso(now),
                    ":exp": int(now) + self.ttl_seconds,
                    ":owner": owner,
                    ":turn": session.turn,
                    ":running": "running",
                    ":awaiting": "awaiting_approval",
                    ":now": int(now),
                    ":max": MAX_QUEUED,
                }
                | ({":mid": message_id} if message_id else {})
            ),
        }
        try:
            transact_write(
                self._dynamodb,
                [
                    {"Update": update},
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": transcript_item(session.turn + 1),
                        }
                    },
                ],
            )
        except TransactionCancelled as exc:
            latest = self.get(thread_id)
            if latest is not None and latest.is_repeat(message_id, content):
                raise DuplicateMessage(latest) from exc  # the same frame, sent twice at once
            if latest is not None and latest.status == "with_operator":
                raise HeldByOperator(latest) from exc
            if latest is None or latest.turn != session.turn or latest.status == "idle":
                raise ThreadIdle() from exc  # the turn ended (or the next one began): the caller tries again
            raise ThreadBusy("Three messages are already waiting for this answer; please wait a moment.") from exc
        return session.model_copy(update={"queued": [*session.queued, queued]})

    def advance(
        self, thread_id: str, turn: int, now: float | None = None
    ) -> tuple[Session, list[QueuedMessage]] | None:
        """`turn` ended with messages queued: they become turn + 1, running (None if the thread moved on)."""
        now = time.time() if now is None else now
        for _ in range(MAX_QUEUED + 2):  # a message queued between the read and the write: read again
            session = self.get(thread_id)
            if session is None or session.turn != turn or not session.queued:
                return None
            last_id = next((q.message_id for q in reversed(session.queued) if q.message_id), None)
            # Their message ids leave the queue: the thread remembers them (and their content's digest) from now on.
            taken = [(q.message_id, content_digest(q.content)) for q in session.queued if q.message_id]
            try:
                response = conditional_write(
                    self._dynamodb.update_item,
                    TableName=self.table_name,
                    Key=thread_key(thread_id),
                    UpdateExpression="SET #status = :running, turn = :next, updated_at = :stamp, expires_at = :exp,"
                    " last_message_id = :mid, GSI1SK = :stamp, recent_messages = :recent"
                    " REMOVE queued, queued_ids, pending_interrupt_id, cancel_turn",
                    ConditionExpression="turn = :turn AND size(queued) = :count",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues=items.to_values(
                        {
                            ":running": "running",
                            ":next": turn + 1,
                            ":stamp": iso(now),
                            ":exp": int(now) + self.ttl_seconds,
                            ":mid": last_id or "",
                            ":turn": turn,
                            ":count": len(session.queued),
                            ":recent": session.remembering(*taken),
                        }
                    ),
                    ReturnValues="ALL_NEW",
                )
            except ConditionFailed:
                continue
            return Session.from_item(response["Attributes"]), session.queued
        return None

    def request_cancel(self, thread_id: str, owner: str, now: float | None = None) -> Session:
        """Ask the running turn to stop (it checks while it streams); returns the session as it was."""
        now = time.time() if now is None else now
        session = self.get_visible(thread_id, owner, now=now)
        if session.status == "idle":
            return session
        applied = self._update_for_turn(
            thread_id,
            session.turn,
            "SET cancel_turn = :turn",
            {},
        )
        return applied or session

    def cancel_requested(self, thread_id: str, turn: int) -> bool:
        """True once `cancel` asked this turn to stop."""
        response = self._dynamodb.get_item(
            TableName=self.table_name,
            Key=thread_key(thread_id),
            ProjectionExpression="cancel_turn",
            ConsistentRead=True,
        )
        value = (response.get("Item") or {}).get("cancel_turn", {}).get("N")
        return value is not None and int(value) == turn

    def mark_awaiting_approval(
        self, thread_id: str, turn: int, interrupt_id: str, approval_expires_at: float, now: float | None = None
    ) -> Session | None:
        """The turn waits for a human; the session lives at least until the approval resolves."""
        now = time.time() if now is None else now
        expires = int(max(now, approval_expires_at)) + self.ttl_seconds
        return self._update_for_turn(
            thread_id,
            turn,
            "SET #status = :awaiting, pending_interrupt_id = :iid, updated_at = :stamp, expires_at = :exp",
            {":awaiting": "awaiting_approval", ":iid": interrupt_id, ":stamp": iso(now), ":exp": expires},
        )

    def mark_running(
        self, thread_id: str, turn: int, interrupt_id: str, now: float | None = None, *, awaiting_only: bool = False
    ) -> Session | None:
        """A decision on `interrupt_id` arrived: the turn runs again. `awaiting_only`: only if the thread still waits
        for it (a decider's late update must not mark running a turn the resumed run already finished)."""
        now = time.time() if now is None else now
        update = self._turn_update(
            thread_id,
            turn,
            "SET #status = :running, updated_at = :stamp, expires_at = :exp, last_interrupt_id = :iid"
            " REMOVE pending_interrupt_id",
            {":running": "running", ":stamp": iso(now), ":exp": int(now) + self.ttl_seconds, ":iid": interrupt_id},
        )
        if awaiting_only:
            update["ConditionExpression"] += " AND pending_interrupt_id = :iid"
        return self._apply(update)

    def attach_connection(self, thread_id: str, owner: str, connection_id: str, now: float | None = None) -> Session:
        """Send this thread's events to `connection_id` from now on (resume after reconnect)."""
        now = time.time() if now is None else now
        try:
            response = conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=thread_key(thread_id),
                UpdateExpression="SET connection_id = :conn",
                ConditionExpression="#owner = :owner AND expires_at > :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=items.to_values({":conn": connection_id, ":owner": owner, ":now": int(now)}),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as failed:
            if failed.old and Session.from_item(failed.old).owner == owner:
                raise SessionExpired() from failed
            raise NotFound("No conversation with that id.") from failed
        return Session.from_item(response["Attributes"])

    def add_watcher(self, thread_id: str, connection_id: str, now: float | None = None) -> Session:
        """Send the thread's events to `connection_id` too (an operator watching); lapsed watches are pruned."""
        now = time.time() if now is None else now
        session = self.get(thread_id)
        if session is None:
            raise NotFound("No conversation with that id.")
        if session.expired(now):
            raise SessionExpired()
        lapsed = [conn for conn, until in session.watchers.items() if until <= now and conn != connection_id]
        names = {"#w": "watchers", "#c": connection_id} | {f"#x{i}": conn for i, conn in enumerate(lapsed)}
        values: dict[str, Any] = {":until": int(now) + WATCH_SECONDS, ":now": int(now)}
        if "watchers" in session.model_fields_set:  # the item has the map (a nested SET needs its parent)
            expression = "SET #w.#c = :until" + (
                " REMOVE " + ", ".join(f"#w.#x{i}" for i in range(len(lapsed))) if lapsed else ""
            )
            # Strictly bounded: at most MAX_WATCHERS once the lapsed ones are gone (re-watching is always fine).
            condition = "expires_at > :now AND attribute_exists(#w) AND (size(#w) < :cap OR attribute_exists(#w.#c))"
            values[":cap"] = MAX_WATCHERS + len(lapsed)
        else:
            expression, condition = "SET #w = :first", "expires_at > :now AND attribute_not_exists(#w)"
            names = {"#w": "watchers"}
            values = {":first": {connection_id: int(now) + WATCH_SECONDS}, ":now": int(now)}
        try:
            response = conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=thread_key(thread_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=items.to_values(values),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as exc:
            latest = self.get(thread_id)
            if latest is None:
                raise NotFound("No conversation with that id.") from exc
            if latest.expired(now):
                raise SessionExpired() from exc
            if len(latest.live_watchers(now)) >= MAX_WATCHERS and connection_id not in latest.watchers:
                raise TooManyWatchers() from exc
            raise ThreadBusy("The conversation changed meanwhile; please watch it again.") from exc
        return Session.from_item(response["Attributes"])

    def remove_watcher(self, thread_id: str, connection_id: str) -> Session | None:
        """Stop sending the thread's events to `connection_id` (None when it was not watching)."""
        try:
            response = conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=thread_key(thread_id),
                UpdateExpression="REMOVE #w.#c",
                ConditionExpression="attribute_exists(#w.#c)",
                ExpressionAttributeNames={"#w": "watchers", "#c": connection_id},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        return Session.from_item(response["Attributes"])

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Session]:
        """The owner's threads, most recently active first."""
        response = self._dynamodb.query(
            TableName=self.table_name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=items.to_values({":pk": f"OWNER#{owner}"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Session.from_item(item) for item in response.get("Items", [])]

    def _update_for_turn(self, thread_id: str, turn: int, expression: str, values: dict[str, Any]) -> Session | None:
        return self._apply(self._turn_update(thread_id, turn, expression, values))

    def _turn_update(self, thread_id: str, turn: int, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": expression,
            "ConditionExpression": "turn = :turn",
            "ExpressionAttributeValues": items.to_values({**values, ":turn": turn}),
        }
        if "#status" in expression:
            update["ExpressionAttributeNames"] = {"#status": "status"}
        return update

    def _apply(self, update: dict[str, Any]) -> Session | None:
        try:
            response = conditional_write(self._dynamodb.update_item, **update, ReturnValues="ALL_NEW")
        except ConditionFailed:
            return None
        return Session.from_item(response["Attributes"])
