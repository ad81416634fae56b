"""Who owns a thread and who may see it: the ownership record that outlives the session, and the reads by owner."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from smart_support.protocol.errors import NotFound, SessionExpired
from smart_support.store import items
from smart_support.store.dynamodb import StoreError, TransactionCancelled, transact_write
from smart_support.store.sessions.item import Session, thread_key
from smart_support.store.sessions.table import SessionTable
from smart_support.store.transcript import TRANSCRIPT_RETENTION_SECONDS

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import UpdateTypeDef

    from smart_support.store.items import Item

logger = Logger(child=True)

DAY = 24 * 3600
# The ownership record outlives every transcript item the thread writes; refreshed when less than that is left.
OWNER_RETENTION_SECONDS = TRANSCRIPT_RETENTION_SECONDS + 2 * DAY
OWNER_REFRESH_SECONDS = TRANSCRIPT_RETENTION_SECONDS + DAY


def owner_key(thread_id: str) -> Item:
    """Primary key of a thread's ownership record (kept as long as its transcript)."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": "OWNER"}}


class ThreadOwnership:
    """A thread id belongs to the principal who started it, as long as its transcript is kept."""

    def __init__(self, table: SessionTable) -> None:
        self.table = table

    def get_visible(
        self, thread_id: str, principal_id: str, *, is_operator: bool = False, now: float | None = None
    ) -> Session:
        """The session if this principal may see it; NotFound otherwise, SessionExpired past its TTL."""
        now = time.time() if now is None else now
        session = self.table.get(thread_id)
        if session is None or (session.owner != principal_id and not is_operator):
            raise NotFound("No conversation with that id.")
        if session.expired(now):
            raise SessionExpired()
        return session

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Session]:
        """The owner's threads, most recently active first."""
        response = self.table.dynamodb.query(
            TableName=self.table.table_name,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues=items.to_values({":pk": f"OWNER#{owner}"}),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [Session.from_item(item) for item in response.get("Items", [])]

    def check_owner(self, thread_id: str, principal_id: str, *, is_operator: bool = False) -> None:
        """NotFound unless the principal owns the thread (or is an operator), session or not: replay after the TTL."""
        if is_operator:
            return
        response = self.table.dynamodb.get_item(
            TableName=self.table.table_name, Key=owner_key(thread_id), ConsistentRead=True
        )
        record = items.from_item(response.get("Item")) or {}
        if record.get("owner") != principal_id or record.get("expires_at", 0) <= time.time():
            raise NotFound("No conversation with that id.")

    def claim(self, thread_id: str, owner: str, now: float) -> UpdateTypeDef:
        """The Update that claims the thread id for `owner` (or keeps their claim), for a transaction."""
        return {
            "TableName": self.table.table_name,
            "Key": owner_key(thread_id),
            "UpdateExpression": "SET #owner = :owner, thread_id = :tid, expires_at = :until",
            "ConditionExpression": "attribute_not_exists(PK) OR #owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": items.to_values(
                {":owner": owner, ":tid": thread_id, ":until": int(now) + OWNER_RETENTION_SECONDS}
            ),
        }

    def refresh(self, thread_id: str, owner: str, now: float) -> None:
        """Keep the ownership record as long as the transcript a long-lived session keeps writing (best effort)."""
        session: UpdateTypeDef = {
            "TableName": self.table.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": "SET owner_until = :until",
            "ConditionExpression": "#owner = :owner",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": items.to_values(
                {":owner": owner, ":until": int(now) + OWNER_RETENTION_SECONDS}
            ),
        }
        try:
            transact_write(self.table.dynamodb, [{"Update": self.claim(thread_id, owner, now)}, {"Update": session}])
        except (TransactionCancelled, StoreError):
            logger.warning("ownership record not refreshed", extra={"thread_id": thread_id}, exc_info=True)
