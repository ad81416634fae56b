"""The stored transcript: one compact item per agent run, replayable without importing langgraph."""

from __future__ import annotations

from typing import Any

from smart_support import aws
from smart_support.store import items

TRANSCRIPT_RETENTION_SECONDS = 30 * 24 * 3600


def segment_key(thread_id: str, turn: int, run: int) -> dict[str, Any]:
    """Key of one run of a turn (its start in epoch ms orders a turn's first run and its resumes)."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": f"TURN#{turn:06d}#{run:013d}"}}


def segment_item(
    thread_id: str, turn: int, run: int, entries: list[dict[str, Any]], now: float, **extra: Any
) -> dict[str, Any]:
    """The DynamoDB item of one run's transcript entries."""
    values = {
        "thread_id": thread_id,
        "turn": turn,
        "run": run,
        "entries": entries,
        "expires_at": int(now) + TRANSCRIPT_RETENTION_SECONDS,
        **extra,
    }
    return {**segment_key(thread_id, turn, run), **items.to_item(values)}


def entry_item(thread_id: str, turn: int, entry: dict[str, Any], now: float, tag: str) -> dict[str, Any]:
    """One entry written on its own (a customer's message at turn start, a message or event of a hand-off).

    Its key sorts after the turn's earlier items (epoch ms) and `tag` keeps two entries of the same ms apart.
    """
    item = segment_item(thread_id, turn, int(now * 1000) % 10**13, [entry], now)
    item["SK"] = {"S": f"{item['SK']['S']}#{tag}"}
    return item


def question_item(thread_id: str, turn: int, entry: dict[str, Any], now: float) -> dict[str, Any]:
    """The customer's message that starts `turn`, stored before the agent runs: it sorts first in its turn."""
    return segment_item(thread_id, turn, 0, [entry], now)


class TranscriptStore:
    """Reads the transcript of a thread in order (the agent writes it inside its end-of-turn transaction)."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def put(self, item: dict[str, Any]) -> None:
        """Store one transcript item."""
        self._dynamodb.put_item(TableName=self.table_name, Item=item)

    def handoff_exchange(self, thread_id: str, turn: int, limit: int = 40) -> list[dict[str, Any]]:
        """The last `limit` messages the customer and operators exchanged after `turn` (the model has not seen them)."""
        paginator = self._dynamodb.get_paginator("query")
        exchange: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :turn)",
            ExpressionAttributeValues=items.to_values({":pk": f"THREAD#{thread_id}", ":turn": f"TURN#{turn:06d}#"}),
        ):
            for raw in page.get("Items", []):
                for entry in (items.from_item(raw) or {}).get("entries", []):
                    if entry.get("handoff") and entry.get("role") in ("user", "operator"):
                        exchange.append(entry)
        return exchange[-limit:]

    def messages(self, thread_id: str, now: float) -> list[dict[str, Any]]:
        """Every entry of the thread, oldest first."""
        paginator = self._dynamodb.get_paginator("query")
        entries: list[dict[str, Any]] = []
        for page in paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :turn)",
            ExpressionAttributeValues=items.to_values({":pk": f"THREAD#{thread_id}", ":turn": "TURN#"}),
        ):
            for raw in page.get("Items", []):
                item = items.from_item(raw) or {}
                if item.get("expires_at", now + 1) <= now:
                    continue
                for entry in item.get("entries", []):
                    entries.append({"turn": item["turn"], **entry})
        return entries
