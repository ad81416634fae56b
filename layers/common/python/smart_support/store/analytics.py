"""Cheap analytics: atomic counters in one item, turn latency as a fixed-bucket histogram."""

from __future__ import annotations

from typing import Any

from smart_support import aws
from smart_support.store import items

COUNTERS_KEY = {"PK": {"S": "ANALYTICS"}, "SK": {"S": "COUNTERS"}}
LATENCY_BUCKETS_MS = (100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000)
JOIN_BUCKETS_SECONDS = (30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)


def latency_bucket(latency_ms: float) -> str:
    """The histogram bucket attribute for one turn latency."""
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return f"lat_le_{bound}"
    return "lat_le_inf"


def counters_update(table_name: str, increments: dict[str, int]) -> dict[str, Any]:
    """An Update (for update_item or a transaction) that ADDs each counter."""
    names = {f"#c{i}": name for i, name in enumerate(increments)}
    values = {f":v{i}": amount for i, amount in enumerate(increments.values())}
    return {
        "TableName": table_name,
        "Key": COUNTERS_KEY,
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

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def add(self, **increments: int) -> None:
        """Atomically add to counters (names are attribute names)."""
        if increments:
            self._dynamodb.update_item(**counters_update(self.table_name, increments))

    def summary(self) -> dict[str, Any]:
        """Sessions, turns, interrupts, hand-offs, tool usage and turn latency percentiles."""
        response = self._dynamodb.get_item(TableName=self.table_name, Key=COUNTERS_KEY)
        item = items.from_item(response.get("Item")) or {}
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
