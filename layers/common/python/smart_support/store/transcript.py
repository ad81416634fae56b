"""The stored transcript: one compact item per agent run, replayable without importing langgraph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from smart_support import aws
from smart_support.protocol.errors import ValidationFailed
from smart_support.store import items, pages

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import QueryInputTypeDef

    from smart_support.store.items import Item

TRANSCRIPT_RETENTION_SECONDS = 30 * 24 * 3600
REPLAY_PAGE = 50
REPLAY_PAGE_MAX = 200
_AFTER_SEGMENTS = "TURN$"  # sorts after every "TURN#..." key


class ToolCallEntry(TypedDict):
    """A tool the agent called, as its answer's transcript entry keeps it."""

    tool: str
    args: dict[str, object]


class TranscriptEntry(TypedDict, total=False):
    """One message or event of a conversation, as stored and replayed (api/responses.py documents each role's)."""

    role: Literal["user", "assistant", "operator", "system", "decision"]
    content: str
    at: str
    turn: int  # added on replay: the turn the entry belongs to
    agent: str  # assistant: the specialist who spoke
    tool_calls: list[ToolCallEntry]
    interrupted: bool  # assistant: the customer stopped the answer
    queued: bool  # user: sent while a turn ran
    message_id: str | None
    handoff: bool  # user, operator: said while an operator held the thread
    operator: str
    operator_id: str
    event: str  # system: what happened (a hand-off)
    state: str
    ticket_id: str
    closed: bool
    interrupt_id: str  # decision: the approval it answered, what ran and who decided
    action: str
    args: dict[str, object]
    requested_args: dict[str, object] | None
    edited_args: dict[str, object] | None
    description: str
    approved: bool
    decided_by: str
    outcome: str | None
    comment: str | None


def segment_key(thread_id: str, turn: int, run: int) -> Item:
    """Key of one run of a turn (its start in epoch ms orders a turn's first run and its resumes)."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": f"TURN#{turn:06d}#{run:013d}"}}


def segment_item(
    thread_id: str, turn: int, run: int, entries: list[TranscriptEntry], now: float, **extra: object
) -> Item:
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


def entry_item(thread_id: str, turn: int, entry: TranscriptEntry, now: float, tag: str) -> Item:
    """One entry written on its own (a customer's message at turn start, a message or event of a hand-off).

    Its key sorts after the turn's earlier items (epoch ms) and `tag` keeps two entries of the same ms apart.
    """
    item = segment_item(thread_id, turn, int(now * 1000) % 10**13, [entry], now)
    item["SK"] = {"S": f"{item['SK']['S']}#{tag}"}
    return item


def question_item(thread_id: str, turn: int, entry: TranscriptEntry, now: float) -> Item:
    """The customer's message that starts `turn`, stored before the agent runs: it sorts first in its turn."""
    return segment_item(thread_id, turn, 0, [entry], now)


class TranscriptStore:
    """Reads the transcript of a thread in pages, oldest first (the agent writes it in its end-of-turn transaction).

    Each agent run stores its entries in one item (a segment), so no item grows with the conversation; a page
    reads at most `limit` + 1 segments.
    """

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def put(self, item: Item) -> None:
        """Store one transcript item."""
        self._dynamodb.put_item(TableName=self.table_name, Item=item)

    def handoff_exchange(self, thread_id: str, turn: int, limit: int = 40) -> list[TranscriptEntry]:
        """The last `limit` messages the customer and operators exchanged after `turn` (the model has not seen them)."""
        paginator = self._dynamodb.get_paginator("query")
        exchange: list[TranscriptEntry] = []
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

    def page(
        self, thread_id: str, now: float, limit: int = REPLAY_PAGE, cursor: str | None = None
    ) -> tuple[list[TranscriptEntry], str | None]:
        """Up to `limit` entries of the thread, oldest first, from `cursor`; and the cursor of the rest (or None)."""
        start_sk, skip = decode_cursor(cursor) if cursor else (segment_prefix(), 0)
        query: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :from AND :to",
            "ExpressionAttributeValues": items.to_values(
                {":pk": f"THREAD#{thread_id}", ":from": start_sk, ":to": _AFTER_SEGMENTS}
            ),
            "Limit": limit + 1,  # every segment holds at least one entry
        }
        entries: list[TranscriptEntry] = []
        while True:
            page = self._dynamodb.query(**query)
            for raw in page.get("Items", []):
                item = items.from_item(raw) or {}
                stored = item.get("entries", [])
                offset = skip if raw["SK"]["S"] == start_sk else 0
                if item.get("expires_at", now + 1) <= now:
                    continue
                for index in range(offset, len(stored)):
                    if len(entries) == limit:
                        return entries, encode_cursor(raw["SK"]["S"], index)
                    entry: TranscriptEntry = stored[index]
                    entries.append({"turn": item["turn"], **entry})
            if "LastEvaluatedKey" not in page:
                return entries, None
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def segment_prefix() -> str:
    """The sort key prefix of every transcript segment."""
    return "TURN#"


def encode_cursor(sort_key: str, index: int) -> str:
    """An opaque cursor: the segment to continue in and the first of its entries not yet returned."""
    return pages.encode_cursor({"SK": {"S": sort_key}, "entry": {"N": str(index)}}) or ""


def decode_cursor(cursor: str) -> tuple[str, int]:
    """(segment sort key, entry index) of a cursor from `encode_cursor`; ValidationFailed for anything else."""
    key = pages.decode_cursor(cursor) or {}
    sort_key = key.get("SK", {}).get("S")
    index = key.get("entry", {}).get("N", "")
    if not isinstance(sort_key, str) or not sort_key.startswith(segment_prefix()) or not str(index).isdigit():
        raise ValidationFailed("cursor: not a cursor from this API.")
    return sort_key, int(index)
