"""Sessions (one per thread) in the conversations table: ownership, status, sliding TTL."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from smart_support import aws
from smart_support.clock import iso
from smart_support.protocol.errors import NotFound, SessionExpired, ThreadBusy
from smart_support.protocol.types import Status
from smart_support.store import analytics, items
from smart_support.store.dynamodb import ConditionFailed, TransactionCancelled, conditional_write, transact_write
from smart_support.store.transcript import segment_item


def thread_key(thread_id: str) -> dict[str, Any]:
    """Primary key of a thread's session item."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": "SESSION"}}


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

    def expired(self, now: float) -> bool:
        """True once the TTL passed (DynamoDB deletes lazily, so every read checks)."""
        return self.expires_at <= now

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Session:
        """Build from a DynamoDB item."""
        values = items.from_item(item) or {}
        return cls.model_validate(values)


class DuplicateMessage(Exception):
    """The frame's message_id already started a turn on this thread."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.thread_id)
        self.session = session


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
    ) -> Session:
        """Create or load the session and mark it running in one conditional write; returns the new state."""
        now = time.time() if now is None else now
        stamp = iso(now)
        condition = "attribute_not_exists(PK) OR (#owner = :owner AND #status = :idle AND expires_at > :now)"
        if message_id:
            condition = f"({condition}) AND (attribute_not_exists(last_message_id) OR last_message_id <> :mid)"
        values: dict[str, Any] = {
            ":owner": owner,
            ":idle": "idle",
            ":running": "running",
            ":now": int(now),
            ":zero": 0,
            ":one": 1,
            ":stamp": stamp,
            ":exp": int(now) + self.ttl_seconds,
            ":gsi": f"OWNER#{owner}",
            ":tid": thread_id,
            ":conn": connection_id or "",
            ":mid": message_id or "",
            ":title": (title or thread_id)[:80],
        }
        try:
            response = conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=thread_key(thread_id),
                UpdateExpression=(
                    "SET #status = :running, turn = if_not_exists(turn, :zero) + :one, #owner = :owner,"
                    " thread_id = :tid, created_at = if_not_exists(created_at, :stamp), updated_at = :stamp,"
                    " title = if_not_exists(title, :title),"
                    " expires_at = :exp, connection_id = :conn, last_message_id = :mid,"
                    " GSI1PK = :gsi, GSI1SK = :stamp REMOVE pending_interrupt_id, last_interrupt_id"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                ExpressionAttributeValues=items.to_values(values),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as failed:
            if not failed.old:  # the condition holds for a missing item, so DynamoDB always returns one
                raise
            raise self._why_not(Session.from_item(failed.old), owner, message_id, now) from failed
        return Session.from_item(response["Attributes"])

    @staticmethod
    def _why_not(session: Session, owner: str, message_id: str | None, now: float) -> Exception:
        if session.owner != owner:
            return NotFound("No conversation with that id.")
        if session.expired(now):
            return SessionExpired()
        if message_id and session.last_message_id == message_id:
            return DuplicateMessage(session)
        return ThreadBusy()

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
    ) -> bool:
        """Store a run's transcript and counters and, once the turn `finished`, return the thread to idle: one
        transaction. False when the thread had moved on (a newer turn owns it): transcript and counters are kept."""
        segment = segment_item(thread_id, turn, int(now * 1000) % 10**13, entries, now)
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table_name, "Item": segment}}]
        if counters:
            writes.append({"Update": analytics.counters_update(self.table_name, counters)})
        if not finished:
            transact_write(self._dynamodb, writes)
            return True
        try:
            transact_write(self._dynamodb, [*writes, {"Update": self._finish_update(thread_id, turn, now)}])
        except TransactionCancelled:
            transact_write(self._dynamodb, writes)
            return False
        return True

    def _finish_update(self, thread_id: str, turn: int, now: float) -> dict[str, Any]:
        """The Update that returns the thread to idle after `turn` (alone, or inside a transaction)."""
        return self._turn_update(
            thread_id,
            turn,
            "SET #status = :idle, updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp REMOVE pending_interrupt_id",
            {":idle": "idle", ":stamp": iso(now), ":exp": int(now) + self.ttl_seconds},
        )

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

    def mark_running(self, thread_id: str, turn: int, interrupt_id: str, now: float | None = None) -> Session | None:
        """A decision on `interrupt_id` arrived: the turn runs again."""
        now = time.time() if now is None else now
        return self._update_for_turn(
            thread_id,
            turn,
            "SET #status = :running, updated_at = :stamp, expires_at = :exp, last_interrupt_id = :iid"
            " REMOVE pending_interrupt_id",
            {":running": "running", ":stamp": iso(now), ":exp": int(now) + self.ttl_seconds, ":iid": interrupt_id},
        )

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
