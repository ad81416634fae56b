"""WebSocket connection records (who is on which connection)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from smart_support import aws
from smart_support.store import items

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

    from smart_support.store.items import Item

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes a WebSocket after 2 h


class ConnectionStore:
    """Connection records (who is on which connection) in the conversations table."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    @staticmethod
    def _key(connection_id: str) -> Item:
        return {"PK": {"S": f"CONN#{connection_id}"}, "SK": {"S": "CONN"}}

    def put(self, connection_id: str, principal_id: str, role: str, now: float | None = None) -> None:
        """Record a new connection; it expires with API Gateway's 2-hour limit."""
        now = time.time() if now is None else now
        item = {
            "principal_id": principal_id,
            "role": role,
            "connected_at": int(now),
            "expires_at": int(now) + CONNECTION_TTL_SECONDS,
        }
        self._dynamodb.put_item(TableName=self.table_name, Item={**self._key(connection_id), **items.to_item(item)})

    def delete(self, connection_id: str) -> None:
        """Forget a connection."""
        self._dynamodb.delete_item(TableName=self.table_name, Key=self._key(connection_id))
