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


class TranscriptStore:
    """Reads the transcript of a thread in order (the agent writes it inside its end-of-turn transaction)."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

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
