"""What a failed agent task had already delivered to the client, so the state machine's retry sends nothing twice.

Written only when a task fails (one item, kept a day), read only by a retry (`$$.State.RetryCount` > 0): a turn that
goes well never touches it. A task that failed after its graph finished also keeps its outcome and transcript entries
here, so the retry only finishes the turn and never runs the graph (or streams its answer) again.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from smart_support import aws
from smart_support.store import items

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient

    from smart_support.store.items import Item

KEEP_SECONDS = 24 * 3600
MAX_BYTES = 300_000  # well under DynamoDB's 400 KB item limit; a bigger record is not kept (the retry re-runs)


class Delivery(BaseModel):
    """What the client got from one task: token text and event digests; the outcome once the graph had finished."""

    text: str = ""
    events: list[str] = Field(default_factory=list)
    run: int | None = None
    entries: list[dict[str, Any]] | None = None
    outcome: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """The graph had finished this task: only the end of the turn is left to do."""
        return self.outcome is not None and self.entries is not None and self.run is not None


def delivery_key(thread_id: str, incarnation: str, turn: int, task_key: str) -> Item:
    """Key of one task's delivery record, beside the thread's other items."""
    return {"PK": {"S": f"THREAD#{thread_id}"}, "SK": {"S": f"DELIVERY#{incarnation}#{turn:06d}#{task_key}"}}


class DeliveryStore:
    """Data access for delivery records."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.client("dynamodb")

    def remember(self, key: Item, delivery: Delivery, now: float | None = None) -> bool:
        """Keep what a failing task delivered (False if it could not be kept: the retry then re-runs everything)."""
        now = time.time() if now is None else now
        values = {**delivery.model_dump(exclude_none=True), "expires_at": int(now) + KEEP_SECONDS}
        if len(json.dumps(values, default=str)) > MAX_BYTES:
            values = {"text": delivery.text, "events": delivery.events, "expires_at": values["expires_at"]}
            if len(json.dumps(values)) > MAX_BYTES:
                return False
        item = {**key, **items.to_item(values)}
        aws.retry_transient(lambda: self._dynamodb.put_item(TableName=self.table_name, Item=item))
        return True

    def recall(self, key: Item) -> Delivery | None:
        """What the failed attempt delivered (None if it kept nothing)."""
        response = aws.retry_transient(
            lambda: self._dynamodb.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        )
        values = items.from_item(response.get("Item"))
        if not values or values.get("expires_at", 0) <= time.time():
            return None
        return Delivery.model_validate(values)
