"""The session items' table: one client and TTL shared by every part of the session store, a consistent read, and
the conditional update of one turn that most of the parts build on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, conditional_write
from smart_support.store.sessions.item import Session, thread_key

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import UpdateTypeDef


class SessionTable:
    """The conversations table, as the session store's parts reach it."""

    def __init__(self, table_name: str, ttl_seconds: int, dynamodb: DynamoDBClient) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.dynamodb = dynamodb

    def get(self, thread_id: str) -> Session | None:
        """The session item, expired or not (None when absent)."""
        response = self.dynamodb.get_item(TableName=self.table_name, Key=thread_key(thread_id), ConsistentRead=True)
        item = response.get("Item")
        return Session.from_item(item) if item else None

    def turn_update(self, thread_id: str, turn: int, expression: str, values: Mapping[str, object]) -> UpdateTypeDef:
        """An UpdateItem request that applies only while the thread is still at `turn`."""
        update: UpdateTypeDef = {
            "TableName": self.table_name,
            "Key": thread_key(thread_id),
            "UpdateExpression": expression,
            "ConditionExpression": "turn = :turn",
            "ExpressionAttributeValues": items.to_values({**values, ":turn": turn}),
        }
        if "#status" in expression:
            update["ExpressionAttributeNames"] = {"#status": "status"}
        return update

    def update_for_turn(
        self, thread_id: str, turn: int, expression: str, values: Mapping[str, object]
    ) -> Session | None:
        """Apply `turn_update`: the session as it is now, or None if the thread moved on."""
        return self.apply(self.turn_update(thread_id, turn, expression, values))

    def apply(self, update: UpdateTypeDef) -> Session | None:
        """Run a conditional update: the session as it is now, or None when its condition failed."""
        try:
            response = conditional_write(self.dynamodb.update_item, **update, ReturnValues="ALL_NEW")
        except ConditionFailed:
            return None
        return Session.from_item(response["Attributes"])
