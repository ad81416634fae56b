"""Per-principal rate limits: a token bucket kept as one DynamoDB item per principal and kind (GCRA).

The generic cell rate algorithm is a token bucket stored as a single number, the theoretical arrival time (TAT)
of the next request: a request at `now` is allowed while TAT ≤ now + burst tolerance, and moves TAT one emission
interval further (or to now + interval when the bucket was idle). Both moves are conditional writes, so
concurrent Lambdas never let more through than the bucket holds; a burst up to the bucket's size passes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from smart_support import aws
from smart_support.store import items
from smart_support.store.dynamodb import ConditionFailed, conditional_write

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

    from smart_support.store.items import Item


def bucket_key(principal: str, kind: str) -> Item:
    """The item of one principal's bucket of one kind (e.g. frames, turns)."""
    return {"PK": {"S": f"RATE#{principal}#{kind}"}, "SK": {"S": "BUCKET"}}


class RateLimiter:
    """Token buckets per principal: `allow(...)` takes one token or says no."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def allow(self, principal: str, kind: str, per_second: float, burst: int, now: float | None = None) -> bool:
        """Take a token from the bucket (`burst` tokens, refilled at `per_second`); False when it is empty."""
        now_ms = int((time.time() if now is None else now) * 1000)
        interval = max(1, int(1000 / per_second))
        tolerance = interval * (max(1, burst) - 1)
        key = bucket_key(principal, kind)
        try:  # idle bucket (the usual case): one write
            self._write(
                key,
                "SET tat = :next, expires_at = :exp",
                "attribute_not_exists(tat) OR tat <= :now",
                {":next": now_ms + interval, ":now": now_ms, ":exp": now_ms // 1000 + 3600},
            )
            return True
        except ConditionFailed as failed:
            tat = int((failed.old or {}).get("tat", {}).get("N", now_ms))
        if tat > now_ms + tolerance:
            return False
        try:  # a burst in progress: one more token while the bucket is not empty
            self._write(
                key,
                "SET tat = tat + :interval, expires_at = :exp",
                "tat > :now AND tat <= :limit",
                {
                    ":interval": interval,
                    ":now": now_ms,
                    ":limit": now_ms + tolerance,
                    ":exp": (tat + interval) // 1000 + 3600,
                },
            )
        except ConditionFailed:
            return False
        return True

    def _write(self, key: Item, update: str, condition: str, values: Mapping[str, object]) -> None:
        conditional_write(
            self._dynamodb.update_item,
            TableName=self.table_name,
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=items.to_values(values),
        )
