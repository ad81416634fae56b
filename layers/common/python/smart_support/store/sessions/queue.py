"""Messages that wait behind a running turn: queued with their transcript entry, then taken as the next turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from smart_support.clock import iso
from smart_support.protocol.errors import ThreadBusy
from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, TransactionCancelled, conditional_write, transact_write
from smart_support.store.sessions.item import (
    DuplicateMessage,
    HeldByOperator,
    QueuedMessage,
    Session,
    content_digest,
    thread_key,
)
from smart_support.store.sessions.ownership import ThreadOwnership
from smart_support.store.sessions.table import SessionTable

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import UpdateTypeDef

    from smart_support.store.items import Item

MAX_QUEUED = 3  # messages that may wait behind a running turn; the next one is thread_busy


class ThreadIdle(Exception):
    """The thread is idle: a message starts a turn rather than waiting in the queue."""


class MessageQueue:
    """At most MAX_QUEUED messages behind the running turn; when it ends they make the next one."""

    def __init__(self, table: SessionTable, ownership: ThreadOwnership) -> None:
        self.table = table
        self.ownership = ownership

    def enqueue(
        self,
        thread_id: str,
        owner: str,
        content: str,
        message_id: str | None,
        transcript_item: Callable[[int], Item],
        now: float | None = None,
    ) -> Session:
        """Queue a message behind the running turn and store it in the transcript, in one transaction.

        Raises ThreadBusy when MAX_QUEUED already wait, DuplicateMessage (same content) or ValidationFailed (other
        content) for a message_id the thread already took, NotFound / SessionExpired as begin_turn does, and
        ThreadIdle when the turn ended meanwhile (start a turn instead).
        """
        now = time.time() if now is None else now
        session = self.ownership.get_visible(thread_id, owner, now=now)
        if session.is_repeat(message_id, content):
            raise DuplicateMessage(session)
        if session.status == "idle":
            raise ThreadIdle()
        if session.status == "with_operator":  # taken over meanwhile: the message goes to the operator
            raise HeldByOperator(session)
        if len(session.queued) >= MAX_QUEUED:
            raise ThreadBusy("Three messages are already waiting for this answer; please wait a moment.")
        queued = QueuedMessage(content=content, message_id=message_id, at=iso(now))
        update: UpdateTypeDef = {
            "TableName": self.table.table_name,
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
                    ":exp": int(now) + self.table.ttl_seconds,
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
                self.table.dynamodb,
                [
                    {"Update": update},
                    {
                        "Put": {
                            "TableName": self.table.table_name,
                            "Item": transcript_item(session.turn + 1),
                        }
                    },
                ],
            )
        except TransactionCancelled as exc:
            latest = self.table.get(thread_id)
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
            session = self.table.get(thread_id)
            if session is None or session.turn != turn or not session.queued:
                return None
            last_id = next((q.message_id for q in reversed(session.queued) if q.message_id), None)
            # Their message ids leave the queue: the thread remembers them (and their content's digest) from now on.
            taken = [(q.message_id, content_digest(q.content)) for q in session.queued if q.message_id]
            try:
                response = conditional_write(
                    self.table.dynamodb.update_item,
                    TableName=self.table.table_name,
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
                            ":exp": int(now) + self.table.ttl_seconds,
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
