"""Escalation tickets (hand-off to a human) in the conversations table; they outlive the session."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from smart_support import aws
from smart_support.clock import iso
from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, conditional_write, store_errors

TICKETS_PARTITION = "TICKETS"


TicketKind = Literal["escalation", "approval_timeout"]


class Ticket(BaseModel):
    """A request for a human to take over a conversation."""

    model_config = ConfigDict(extra="ignore")

    ticket_id: str
    thread_id: str
    customer_id: str
    summary: str
    kind: TicketKind = "escalation"
    status: Literal["open", "closed"] = "open"
    created_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Ticket:
        """Build from a DynamoDB item."""
        return cls.model_validate(items.from_item(item) or {})


def ticket_key(ticket_id: str) -> dict[str, Any]:
    """Primary key of a ticket item."""
    return {"PK": {"S": f"TICKET#{ticket_id}"}, "SK": {"S": "TICKET"}}


def ticket_id_for(thread_id: str, idempotency_key: str) -> str:
    """A short, stable ticket id for one escalation of one thread."""
    digest = hashlib.sha256(f"{thread_id}:{idempotency_key}".encode()).hexdigest()
    return f"T-{digest[:10].upper()}"


class TicketStore:
    """Data access for tickets (no TTL attribute: tickets outlive sessions)."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def create(
        self,
        thread_id: str,
        customer_id: str,
        summary: str,
        idempotency_key: str | None = None,
        now: float | None = None,
        kind: TicketKind = "escalation",
    ) -> Ticket:
        """Open a ticket; the same thread + idempotency key returns the ticket created the first time."""
        now = time.time() if now is None else now
        stamp = iso(now)
        ticket_id = ticket_id_for(thread_id, idempotency_key) if idempotency_key else ticket_id_for(thread_id, stamp)
        ticket = Ticket(
            ticket_id=ticket_id,
            thread_id=thread_id,
            customer_id=customer_id,
            summary=summary,
            kind=kind,
            created_at=stamp,
        )
        item = {
            **ticket_key(ticket_id),
            **items.to_item({**ticket.model_dump(), "GSI1PK": TICKETS_PARTITION, "GSI1SK": f"{stamp}#{ticket_id}"}),
        }
        try:
            conditional_write(
                self._dynamodb.put_item,
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ConditionFailed as failed:  # the same escalation created it before: that ticket
            if not failed.old:  # pragma: no cover - the condition fails only on an item, which DynamoDB returns
                raise
            return Ticket.from_item(failed.old)
        return ticket

    def get(self, ticket_id: str) -> Ticket | None:
        """One ticket by id (None when absent)."""
        with store_errors():
            response = self._dynamodb.get_item(
                TableName=self.table_name, Key=ticket_key(ticket_id), ConsistentRead=True
            )
        item = response.get("Item")
        return Ticket.from_item(item) if item else None

    def list_open(self, limit: int = 50) -> list[Ticket]:
        """Open tickets, newest first."""
        tickets: list[Ticket] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "FilterExpression": "#status = :open",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": items.to_values({":pk": TICKETS_PARTITION, ":open": "open"}),
            "ScanIndexForward": False,
        }
        with store_errors():
            while len(tickets) < limit:
                response = self._dynamodb.query(**kwargs, Limit=limit)
                tickets.extend(Ticket.from_item(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return tickets[:limit]
