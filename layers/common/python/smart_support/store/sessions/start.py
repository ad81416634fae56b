"""A turn begins: the thread's session is created (a new incarnation, the owner's claim on the thread id) or taken
from idle to running, and a message_id it took already writes nothing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smart_support.clock import iso
from smart_support.protocol.errors import NotFound, SessionExpired, ThreadBusy
from smart_support.store import analytics, items
from smart_support.store.dynamodb import ConditionFailed, TransactionCancelled, conditional_write, transact_write
from smart_support.store.sessions.item import (
    DuplicateMessage,
    HeldByOperator,
    RecentMessage,
    Session,
    content_digest,
    thread_key,
)
from smart_support.store.sessions.ownership import OWNER_REFRESH_SECONDS, OWNER_RETENTION_SECONDS, ThreadOwnership
from smart_support.store.sessions.table import SessionTable

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef


def new_incarnation(now: float) -> str:
    """A new conversation incarnation's id: sortable by creation time, unique."""
    return f"{int(now * 1000):011x}{secrets.token_hex(3)}"


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


class TurnStart:
    """Starts a thread's next turn, once per message."""

    def __init__(self, table: SessionTable, ownership: ThreadOwnership) -> None:
        self.table = table
        self.ownership = ownership

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
            current = self.table.get(thread_id)
            session = self._create(thread_id, start, title) if current is None else self._continue(current, start)
            if session is not None:
                if session.owner_until - now < OWNER_REFRESH_SECONDS:
                    self.ownership.refresh(thread_id, owner, now)
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
        condition_values: Mapping[str, object] | None = None,
    ) -> UpdateTypeDef:
        owner, connection_id, message_id, now = start.owner, start.connection_id, start.message_id, start.now
        stamp = iso(now)
        values: dict[str, object] = {
            ":owner": owner,
            ":running": "running",
            ":zero": base_turn,
            ":one": 1,
            ":stamp": stamp,
            ":exp": int(now) + self.table.ttl_seconds,
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
            "TableName": self.table.table_name,
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
        seen: dict[str, object] = {}
        if start.message_id:  # the ids it remembers are still those read (a concurrent frame may have taken this one)
            recent = current.remembering((start.message_id, start.digest))
            unchanged, seen = current.recent_condition()
            condition += f" AND {unchanged}"
        update = self._start_update(current.thread_id, start, None, condition, recent=recent, condition_values=seen)
        try:
            response = conditional_write(self.table.dynamodb.update_item, **update, ReturnValues="ALL_NEW")
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
        writes: list[TransactWriteItemTypeDef] = [
            {"Update": self.ownership.claim(thread_id, owner, now)},
            {"Update": update},
            {"Update": analytics.counters_update(self.table.table_name, {"sessions": 1})},
        ]
        try:
            transact_write(self.table.dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed_at(0):
                raise NotFound("No conversation with that id.") from cancelled
            if cancelled.failed_at(1):
                return None  # another request created the session first: continue it instead
            raise
        return self.table.get(thread_id)

    def _last_stored_turn(self, thread_id: str) -> int:
        """The last turn the kept transcript has (0 for none): a new incarnation's turns continue after it."""
        response = self.table.dynamodb.query(
            TableName=self.table.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :turn)",
            ExpressionAttributeValues=items.to_values({":pk": f"THREAD#{thread_id}", ":turn": "TURN#"}),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        found = response.get("Items") or []
        latest = items.from_item(found[0] if found else None) or {}
        return int(latest.get("turn", 0))

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
