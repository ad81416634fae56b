"""The hand-off's writes: each moves the session, the ticket, the transcript and the counters in one transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from smart_support import aws
from smart_support.clock import iso
from smart_support.store import analytics, items
from smart_support.store.dynamodb import TransactionCancelled, transact_write
from smart_support.store.sessions import Session, content_digest, thread_key
from smart_support.store.tickets import Ticket, TicketStore
from smart_support.store.transcript import entry_item

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef, UpdateTypeDef

    from smart_support.store.items import Item
    from smart_support.store.transcript import TranscriptEntry

TRANSACT_ATTEMPTS = 4


class HandoffConflict(Exception):
    """A condition of the transaction failed: the session or the ticket changed since they were read."""


class HandoffStore:
    """Takeover, messages while an operator holds a thread, release, and closing a ticket: all or nothing."""

    def __init__(
        self, table_name: str, ttl_seconds: int, tickets: TicketStore, dynamodb: DynamoDBClient | None = None
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.tickets = tickets
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def take_over(
        self,
        session: Session,
        ticket: Ticket,
        read_version: int | None,
        entry: TranscriptEntry,
        counters: dict[str, int],
        now: float,
    ) -> None:
        """The idle thread goes to `ticket.assignee`: session held, ticket assigned, `joined` in the transcript."""
        stamp = iso(now)
        update = self._session_update(
            session,
            "SET #status = :held, operator_id = :op, operator_name = :name, held_since = :stamp, ticket_id = :tid,"
            " updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp",
            "#status = :idle AND turn = :turn AND expires_at > :now"
            " AND (attribute_not_exists(ticket_id) OR ticket_id = :tid)",
            {
                ":held": "with_operator",
                ":idle": "idle",
                ":op": ticket.assignee,
                ":name": ticket.assignee_name or ticket.assignee,
                ":tid": ticket.ticket_id,
                ":turn": session.turn,
                ":stamp": stamp,
                ":exp": int(now) + self.ttl_seconds,
                ":now": int(now),
            },
        )
        self._transact(
            [
                {"Update": update},
                {"Put": self.tickets.put_request(ticket, read_version)},
                {"Put": self._put(entry_item(session.thread_id, session.turn, entry, now, "joined"))},
                {"Update": analytics.counters_update(self.table_name, counters)},
            ]
        )

    def add_message(
        self,
        session: Session,
        entry: TranscriptEntry,
        now: float,
        *,
        operator_id: str | None = None,
        message_id: str | None = None,
        connection_id: str | None = None,
    ) -> None:
        """Store a message of the held thread (the operator's, or the customer's) and slide the session's TTL.

        The customer's `message_id` (theirs, not one made up for a frame without) is remembered with a digest of the
        content, as a turn's is, so a repeated frame writes nothing; HandoffConflict when the session changed since
        `session` was read.
        """
        stamp = iso(now)
        values: dict[str, object] = {
            ":held": "with_operator",
            ":stamp": stamp,
            ":exp": int(now) + self.ttl_seconds,
            ":now": int(now),
        }
        expression = "SET updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp"
        condition = "#status = :held AND expires_at > :now"
        if operator_id is not None:
            condition += " AND operator_id = :op"
            values[":op"] = operator_id
        else:  # the customer: the message id makes a retried frame a no-op; the thread follows their connection
            condition += " AND #owner = :owner AND (attribute_not_exists(last_message_id) OR last_message_id <> :mid)"
            expression += ", last_message_id = :mid"
            values.update({":owner": session.owner, ":mid": message_id or entry["message_id"]})
            if message_id:
                unchanged, seen = session.recent_condition()
                condition += f" AND {unchanged}"
                expression += ", recent_messages = :recent"
                values.update(seen)
                values[":recent"] = session.remembering((message_id, content_digest(entry["content"])))
            if connection_id:
                expression += ", connection_id = :conn"
                values[":conn"] = connection_id
        names = {"#owner": "owner"} if operator_id is None else {}
        update = self._session_update(session, expression, condition, values, names)
        tag = str(entry.get("message_id") or stamp)
        self._transact(
            [{"Update": update}, {"Put": self._put(entry_item(session.thread_id, session.turn, entry, now, tag))}]
        )

    def release(
        self, session: Session, ticket: Ticket, read_version: int | None, entry: TranscriptEntry, now: float
    ) -> None:
        """Back to the AI: session idle (the model reads the exchange on the next turn), ticket closed."""
        stamp = iso(now)
        update = self._session_update(
            session,
            "SET #status = :idle, context_turn = turn, updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp"
            " REMOVE operator_id, operator_name, held_since, ticket_id",
            "#status = :held AND operator_id = :op",
            {
                ":idle": "idle",
                ":held": "with_operator",
                ":op": session.operator_id,
                ":stamp": stamp,
                ":exp": int(now) + self.ttl_seconds,
            },
        )
        self._transact(
            [
                {"Update": update},
                {"Put": self.tickets.put_request(ticket, read_version)},
                {"Put": self._put(entry_item(session.thread_id, session.turn, entry, now, "returned"))},
            ]
        )

    def close_ticket(
        self, ticket: Ticket, read_version: int, session: Session | None, entry: TranscriptEntry, now: float
    ) -> None:
        """Close a ticket nobody holds; the session it is linked to (if any) stops waiting for a person."""
        transact: list[TransactWriteItemTypeDef] = [{"Put": self.tickets.put_request(ticket, read_version)}]
        if session is not None:
            unlink = self._session_update(
                session,
                "REMOVE ticket_id",
                "ticket_id = :tid AND #status <> :held",
                {":tid": ticket.ticket_id, ":held": "with_operator"},
            )
            transact.append({"Update": unlink})
            transact.append({"Put": self._put(entry_item(session.thread_id, session.turn, entry, now, "closed"))})
        self._transact(transact)

    def _session_update(
        self,
        session: Session,
        expression: str,
        condition: str,
        values: Mapping[str, object],
        names: Mapping[str, str] | None = None,
    ) -> UpdateTypeDef:
        return {
            "TableName": self.table_name,
            "Key": thread_key(session.thread_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status", **(names or {})},
            "ExpressionAttributeValues": items.to_values(values),
        }

    def _put(self, item: Item) -> PutTypeDef:
        return {"TableName": self.table_name, "Item": item}

    def _transact(self, transact_items: list[TransactWriteItemTypeDef]) -> None:
        for attempt in range(TRANSACT_ATTEMPTS):
            try:
                transact_write(self._dynamodb, transact_items)
                return
            except TransactionCancelled as cancelled:
                if cancelled.condition_failed or not cancelled.reasons:
                    raise HandoffConflict(str(cancelled.reasons)) from cancelled
                if attempt == TRANSACT_ATTEMPTS - 1:  # conflicts with another request or throttling: try again
                    raise
                time.sleep(0.05 * 2**attempt)
