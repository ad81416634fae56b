"""Cheap, exact analytics: atomic counters spread over shards, turn latency as a fixed-bucket histogram.

Every counted event ADDs to one of COUNTER_SHARDS items (its own partition key), picked at random, inside the same
write that records the event (the turn's end-of-turn transaction, a decision's audit), so a count is exact: it is
written if and only if the event is. No single item takes every turn's write (one would throttle and conflict under
load, capping the whole service near one partition's ~1,000 writes/s); a read sums the shards (one BatchGetItem).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from smart_support import aws
from smart_support.store import items

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import KeysAndAttributesUnionTypeDef, UpdateTypeDef

    from smart_support.store.items import Item

COUNTER_SHARDS = 32
LATENCY_BUCKETS_MS = (100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000)
JOIN_BUCKETS_SECONDS = (30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


def latency_bucket(latency_ms: float) -> str:
    """The histogram bucket attribute for one turn latency."""
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return f"lat_le_{bound}"
    return "lat_le_inf"


def shard_key(shard: int) -> Item:
    """Key of one counter shard."""
    return {"PK": {"S": f"ANALYTICS#{shard:02d}"}, "SK": {"S": "COUNTERS"}}


def counters_update(table_name: str, increments: dict[str, int], shard: int | None = None) -> UpdateTypeDef:
    """An Update (for update_item or a transaction) that ADDs each counter on one shard (random unless given)."""
    names = {f"#c{i}": name for i, name in enumerate(increments)}
    values = {f":v{i}": amount for i, amount in enumerate(increments.values())}
    shard = random.randrange(COUNTER_SHARDS) if shard is None else shard  # noqa: S311 - load spreading
    return {
        "TableName": table_name,
        "Key": shard_key(shard),
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(increments))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": items.to_values(values),
    }


def join_bucket(seconds: float) -> str:
    """The histogram bucket attribute for one hand-off's time to join (ticket opened -> operator joined)."""
    for bound in JOIN_BUCKETS_SECONDS:
        if seconds <= bound:
            return f"join_le_{bound}"
    return "join_le_inf"


def percentile(
    histogram: dict[str, int], fraction: float, prefix: str = "lat_le_", bounds: tuple[int, ...] = LATENCY_BUCKETS_MS
) -> int | None:
    """Upper bound of the bucket holding the given fraction of the histogram's samples."""
    total = sum(histogram.values())
    if not total:
        return None
    running = 0
    for bound in (*bounds, None):
        key = f"{prefix}{bound}" if bound else f"{prefix}inf"
        running += histogram.get(key, 0)
        if running >= fraction * total:
            return bound if bound else bounds[-1] * 2
    return None


class AnalyticsStore:
    """Counters for the operator's analytics view."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def add(self, **increments: int) -> None:
        """Atomically add to counters (names are attribute names)."""
        if increments:
            update = counters_update(self.table_name, increments)
            aws.retry_transient(lambda: self._dynamodb.update_item(**update))

    def totals(self) -> dict[str, int]:
        """Every counter summed over the shards."""
        keys = [shard_key(shard) for shard in range(COUNTER_SHARDS)]
        totals: dict[str, int] = {}
        request: Mapping[str, KeysAndAttributesUnionTypeDef] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = aws.retry_transient(functools.partial(self._dynamodb.batch_get_item, RequestItems=request))
            for raw in response.get("Responses", {}).get(self.table_name, []):
                for name, value in (items.from_item(raw) or {}).items():
                    if isinstance(value, int) and name not in ("PK", "SK"):
                        totals[name] = totals.get(name, 0) + value
            request = response.get("UnprocessedKeys") or {}
        return totals

    def summary(self) -> dict[str, Any]:
        """Sessions, turns, interrupts, hand-offs, tool usage and turn latency percentiles."""
        item = self.totals()
        histogram = {k: v for k, v in item.items() if k.startswith("lat_le_")}
        joins = {k: v for k, v in item.items() if k.startswith("join_le_")}
        return {
            "sessions": item.get("sessions", 0),
            "turns": item.get("turns", 0),
            "failed_turns": item.get("failed_turns", 0),
            "interrupts": {
                "requested": item.get("interrupts_requested", 0),
                "approved": item.get("interrupts_approved", 0),
                "rejected": item.get("interrupts_rejected", 0),
                "expired": item.get("interrupts_expired", 0),
            },
            "handoffs": {
                "requested": item.get("handoffs_requested", 0),
                "joined": item.get("handoffs_joined", 0),
                # A bucket bound ("at most"), like the latency percentiles: exact medians would need every sample.
                "median_seconds_to_join": percentile(joins, 0.5, "join_le_", JOIN_BUCKETS_SECONDS),
                "join_histogram": joins,
            },
            "tool_usage": {k.removeprefix("tool_"): v for k, v in item.items() if k.startswith("tool_")},
            "turn_latency_ms": {
                "p50": percentile(histogram, 0.5),
                "p95": percentile(histogram, 0.95),
                "histogram": histogram,
            },
        }
