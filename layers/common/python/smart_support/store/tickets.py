"""Hand-off tickets (conversations table): open -> assigned -> closed, with internal notes; they outlive sessions."""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smart_support import aws
from smart_support.clock import iso
from smart_support.protocol.errors import TicketConflict
from smart_support.store import analytics, items
from smart_support.store.dynamodb import (
    ConditionFailed,
    StoreError,
    TransactionCancelled,
    conditional_write,
    store_errors,
    transact_write,
)
from smart_support.store.pages import decode_cursor, encode_cursor
from smart_support.store.sessions import thread_key

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import PutTypeDef, QueryInputTypeDef, TransactWriteItemTypeDef, UpdateTypeDef

    from smart_support.store.items import Item

TicketKind = Literal["escalation", "approval_timeout", "takeover"]
TicketStatus = Literal["open", "assigned", "closed"]
MAX_NOTES = 50  # a ticket is one item: its notes are bounded
MAX_OPEN_TICKETS = 3  # per customer: a further escalation joins the newest open one (docs/security.md)
MAX_NOTE_CHARS = 2000


class TicketNote(BaseModel):
    """An internal note on a ticket (operators only, never shown to the customer)."""

    text: str
    by: str
    by_name: str | None = None
    at: str


class Ticket(BaseModel):
    """A request for a person to help in a conversation, and what operators did about it."""

    model_config = ConfigDict(extra="ignore")

    ticket_id: str
    thread_id: str
    customer_id: str
    summary: str
    kind: TicketKind = "escalation"
    status: TicketStatus = "open"
    created_at: str
    updated_at: str | None = None
    assignee: str | None = None
    assignee_name: str | None = None
    assigned_at: str | None = None
    joined_at: str | None = None  # the first takeover (time to join = joined_at - created_at)
    closed_at: str | None = None
    closed_by: str | None = None
    notes: list[TicketNote] = Field(default_factory=list)
    version: int = 1  # optimistic concurrency: every write names the version it read

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Ticket:
        """Build from a DynamoDB item."""
        return cls.model_validate(items.from_item(item) or {})

    def public(self) -> dict[str, Any]:
        """What operators see."""
        return self.model_dump(exclude={"version"})

    def with_note(self, text: str, by: str, by_name: str | None, now: float) -> Ticket:
        """A copy with one more note (TicketConflict once the ticket holds MAX_NOTES)."""
        if len(self.notes) >= MAX_NOTES:
            raise TicketConflict(f"A ticket holds at most {MAX_NOTES} notes.")
        note = TicketNote(text=text[:MAX_NOTE_CHARS], by=by, by_name=by_name, at=iso(now))
        return self.model_copy(update={"notes": [*self.notes, note]})


def ticket_key(ticket_id: str) -> Item:
    """Primary key of a ticket item."""
    return {"PK": {"S": f"TICKET#{ticket_id}"}, "SK": {"S": "TICKET"}}


def ticket_id_for(thread_id: str, idempotency_key: str) -> str:
    """A short, stable ticket id for one escalation of one thread."""
    digest = hashlib.sha256(f"{thread_id}:{idempotency_key}".encode()).hexdigest()
    return f"T-{digest[:10].upper()}"


def open_tickets_key(customer_id: str) -> Item:
    """The item holding the ids of a customer's tickets that may still be open (at most MAX_OPEN_TICKETS)."""
    return {"PK": {"S": f"CUSTOMER#{customer_id}"}, "SK": {"S": "OPEN_TICKETS"}}


def status_partition(status: TicketStatus) -> str:
    """The GSI1 partition that lists the tickets of one status."""
    return f"TICKETS#{status}"


class TicketStore:
    """Data access for tickets (no TTL attribute: tickets outlive sessions)."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    # ---------------------------------------------------------------- writes
    def item(self, ticket: Ticket) -> Item:
        """The ticket's DynamoDB item, indexed by status (open and assigned by creation, closed by closing time)."""
        since = ticket.closed_at if ticket.status == "closed" and ticket.closed_at else ticket.created_at
        values = {
            **ticket.model_dump(),
            "GSI1PK": status_partition(ticket.status),
            "GSI1SK": f"{since}#{ticket.ticket_id}",
        }
        return {**ticket_key(ticket.ticket_id), **items.to_item(values)}

    def put_request(self, ticket: Ticket, expected_version: int | None) -> PutTypeDef:
        """A Put (for a transaction) of a new ticket, or of a change to the version that was read."""
        put: PutTypeDef = {"TableName": self.table_name, "Item": self.item(ticket)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = items.to_values({":v": expected_version})
        return put

    def save(self, ticket: Ticket, expected_version: int) -> Ticket:
        """Write a change made to version `expected_version`; TicketConflict if someone changed it meanwhile."""
        saved = ticket.model_copy(update={"version": expected_version + 1})
        try:
            conditional_write(self._dynamodb.put_item, **self.put_request(saved, expected_version))
        except ConditionFailed as failed:
            raise TicketConflict() from failed
        return saved

    def create(
        self,
        thread_id: str,
        customer_id: str,
        summary: str,
        idempotency_key: str | None = None,
        now: float | None = None,
        kind: TicketKind = "escalation",
    ) -> Ticket:
        """Open the thread's ticket (linked to its session, counted as a hand-off request) or return the open one.

        The same thread + idempotency key returns the ticket created the first time; a thread whose ticket is still
        open gets that ticket back (with a note saying what happened), never a second one. A customer has at most
        MAX_OPEN_TICKETS open: beyond that the request joins their newest open ticket (a note naming this thread,
        the thread linked to it), which is returned (its thread_id is another thread's).
        """
        now = time.time() if now is None else now
        stamp = iso(now)
        key = idempotency_key or stamp
        ticket = Ticket(
            ticket_id=ticket_id_for(thread_id, key),
            thread_id=thread_id,
            customer_id=customer_id,
            summary=summary,
            kind=kind,
            created_at=stamp,
            updated_at=stamp,
        )
        link: UpdateTypeDef = {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": "SET ticket_id = :tid",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(ticket_id)",
            "ExpressionAttributeValues": items.to_values({":tid": ticket.ticket_id}),
        }
        count: TransactWriteItemTypeDef = {
            "Update": analytics.counters_update(self.table_name, {"handoffs_requested": 1})
        }
        cap: TransactWriteItemTypeDef = {"Update": self._cap_update(customer_id, ticket.ticket_id)}
        for _ in range(4):  # the session may change between the read and the write: look again
            cancelled = self._try([{"Put": self.put_request(ticket, None)}, {"Update": link}, count, cap])
            if cancelled is None:
                return ticket
            if existing := self.get(ticket.ticket_id):  # a retried call
                return existing
            if cancelled.failed_at(3) and not cancelled.failed_at(1):
                if joined := self._join_newest(customer_id, thread_id, summary, now):
                    return joined
                continue
            linked = self._linked_ticket_id(thread_id)
            if linked is None:  # no session (it expired): the ticket stands alone
                alone = self._try([{"Put": self.put_request(ticket, None)}, count, cap])
                if alone is None:
                    return ticket
                if alone.failed_at(2) and (joined := self._join_newest(customer_id, thread_id, summary, now)):
                    return joined
                continue
            if not linked:  # the link was just removed: try again
                continue
            current = self.get(linked)
            if current is not None and current.status != "closed":
                return self._note_again(current, summary, now)
            # A stale link (a ticket closed elsewhere): replace it.
            link["ConditionExpression"] = (
                "attribute_exists(PK) AND (attribute_not_exists(ticket_id) OR ticket_id = :old)"
            )
            link["ExpressionAttributeValues"] = items.to_values({":tid": ticket.ticket_id, ":old": linked})
        raise StoreError("TransactWriteItems", "TransactionConflict")

    def _note_again(self, ticket: Ticket, summary: str, now: float) -> Ticket:
        if ticket.summary == summary or any(n.text == summary for n in ticket.notes):
            return ticket
        try:
            return self.save(ticket.with_note(summary, "system", None, now), ticket.version)
        except TicketConflict:
            return ticket

    def _try(self, transact_items: list[TransactWriteItemTypeDef]) -> TransactionCancelled | None:
        """None when written; else why it was cancelled (a condition, or a conflict with another request)."""
        try:
            transact_write(self._dynamodb, transact_items)
        except TransactionCancelled as cancelled:
            time.sleep(0.02)
            return cancelled
        return None

    def _cap_update(self, customer_id: str, ticket_id: str) -> UpdateTypeDef:
        """An Update (for the creating transaction) that adds the ticket to the customer's open ones, under the cap."""
        return {
            "TableName": self.table_name,
            "Key": open_tickets_key(customer_id),
            "UpdateExpression": "ADD open_ids :id",
            "ConditionExpression": "attribute_not_exists(open_ids) OR size(open_ids) < :max",
            "ExpressionAttributeValues": {":id": {"SS": [ticket_id]}, ":max": {"N": str(MAX_OPEN_TICKETS)}},
        }

    def _join_newest(self, customer_id: str, thread_id: str, summary: str, now: float) -> Ticket | None:
        """The customer's newest open ticket, noted with this request and linked to its thread; None when a ticket
        counted as open was closed meanwhile (forgotten here, so the caller can open one)."""
        with store_errors():
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key=open_tickets_key(customer_id), ConsistentRead=True
            )
        ids = sorted((items.from_item(response.get("Item")) or {}).get("open_ids") or [])
        tickets = [t for t in (self.get(i) for i in ids) if t is not None and t.status != "closed"]
        if gone := set(ids) - {t.ticket_id for t in tickets}:
            with store_errors():
                self._dynamodb.update_item(
                    TableName=self.table_name,
                    Key=open_tickets_key(customer_id),
                    UpdateExpression="DELETE open_ids :gone",
                    ExpressionAttributeValues={":gone": {"SS": sorted(gone)}},
                )
            return None
        if not tickets:
            return None
        newest = max(tickets, key=lambda t: (t.created_at, t.ticket_id))
        self._link(thread_id, newest.ticket_id)
        note = f"Asked again in conversation {thread_id}: {summary}" if newest.thread_id != thread_id else summary
        return self._note_again(newest, note, now)

    def _link(self, thread_id: str, ticket_id: str) -> None:
        """Link a thread without a ticket to `ticket_id` (nothing when the session is gone or has its own)."""
        with contextlib.suppress(ConditionFailed):
            conditional_write(
                self._dynamodb.update_item,
                TableName=self.table_name,
                Key=thread_key(thread_id),
                UpdateExpression="SET ticket_id = :tid",
                ConditionExpression="attribute_exists(PK) AND attribute_not_exists(ticket_id)",
                ExpressionAttributeValues=items.to_values({":tid": ticket_id}),
            )

    def _linked_ticket_id(self, thread_id: str) -> str | None:
        """The session's ticket id ('' when the session has none; None when there is no session)."""
        with store_errors():
            response = self._dynamodb.get_item(
                TableName=self.table_name,
                Key=thread_key(thread_id),
                ConsistentRead=True,
                ProjectionExpression="PK, ticket_id",
            )
        item = items.from_item(response.get("Item"))
        if item is None:
            return None
        return str(item.get("ticket_id") or "")

    # ---------------------------------------------------------------- reads
    def get(self, ticket_id: str) -> Ticket | None:
        """One ticket by id (None when absent)."""
        with store_errors():
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key=ticket_key(ticket_id), ConsistentRead=True
            )
        item = response.get("Item")
        return Ticket.from_item(item) if item else None

    def list_page(
        self,
        status: TicketStatus = "open",
        limit: int = 20,
        cursor: str | None = None,
        created_before: str | None = None,
    ) -> tuple[list[Ticket], str | None]:
        """One page of the tickets with `status` (open and assigned oldest first, closed newest first); with
        `created_before` (an ISO time), only open or assigned tickets created before it: the stale ones, by age."""
        values = {":pk": status_partition(status)}
        condition = "GSI1PK = :pk"
        if created_before and status != "closed":
            condition += " AND GSI1SK < :before"
            values[":before"] = created_before
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": items.to_values(values),
            "ScanIndexForward": status != "closed",
            "Limit": limit,
        }
        if start := decode_cursor(cursor):
            query["ExclusiveStartKey"] = start
        with store_errors():
            response = self._dynamodb.query(**query)
        tickets = [Ticket.from_item(item) for item in response.get("Items", [])]
        return tickets, encode_cursor(response.get("LastEvaluatedKey"))
