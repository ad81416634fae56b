"""A listing on GSI1 spread over shards, so no single index partition takes every write of the service.

Pending approvals and audit records were each listed under one GSI1 partition (`APPROVALS#PENDING`, `AUDIT`): every
approval of every customer wrote there, and a DynamoDB partition takes about 1,000 writes a second (a GSI that cannot
keep up throttles the table's writes). Like the analytics counters (analytics.py), a listing now spreads over
INDEX_SHARDS partitions, `<prefix>#<nn>`; an item's shard is a hash of its id, so rewriting the item (a refreshed task
token, an accepted decision made final) keeps it where it was. A page queries every shard, and the listing's former
unsharded partition for what was written before, and merges them in (GSI1SK, PK) order; the cursor is the position
of the page's last item, so the next page starts right after it in every shard.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smart_support.protocol.errors import ValidationFailed
from smart_support.store import items
from smart_support.store.pages import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_dynamodb.type_defs import QueryInputTypeDef

    from smart_support.store.items import Item

INDEX_SHARDS = 8  # 8 partitions: ~8,000 writes/s for a listing; a page costs 8 (+1 former) small queries

Position = tuple[str, str]  # (GSI1SK, PK): the order of a merged listing


def _position(item: Item) -> Position:
    return item["GSI1SK"]["S"], item["PK"]["S"]


@dataclass(frozen=True)
class ShardedIndex:
    """One listing on GSI1, over `shards` partitions named `<prefix>#<nn>` (and the former unsharded `legacy`)."""

    prefix: str
    legacy: str | None = None
    shards: int = INDEX_SHARDS

    def partition(self, item_id: str) -> str:
        """The GSI1PK an item with this id is listed under (always the same one for the same id)."""
        digest = hashlib.sha256(item_id.encode()).digest()
        return f"{self.prefix}#{int.from_bytes(digest[:4], 'big') % self.shards:02d}"

    def partitions(self) -> list[str]:
        """Every partition a page reads."""
        return [f"{self.prefix}#{shard:02d}" for shard in range(self.shards)] + ([self.legacy] if self.legacy else [])

    def page(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        limit: int,
        cursor: str | None = None,
        newest_first: bool = False,
    ) -> tuple[list[Item], str | None]:
        """One page of the listing (raw items, in GSI1SK order), and the cursor of the next (None at the end)."""
        start = decode_cursor(cursor)
        after: Position | None = (start["GSI1SK"]["S"], start["PK"]["S"]) if start and _is_position(start) else None
        if start and after is None:
            raise ValidationFailed("cursor: not a cursor from this API.")
        candidates: list[Item] = []
        more = False
        for partition in self.partitions():
            found, partition_has_more = self._read(dynamodb, table_name, partition, limit, after, newest_first)
            candidates += found
            more = more or partition_has_more
        candidates.sort(key=_position, reverse=newest_first)
        page = candidates[:limit]
        if page and (more or len(candidates) > limit):
            last = _position(page[-1])
            return page, encode_cursor({"GSI1SK": {"S": last[0]}, "PK": {"S": last[1]}})
        return page, None

    @staticmethod
    def _read(
        dynamodb: DynamoDBClient,
        table_name: str,
        partition: str,
        limit: int,
        after: Position | None,
        newest_first: bool,
    ) -> tuple[list[Item], bool]:
        """The items of one partition past `after` that could be on this page, and whether it holds more.

        Items that share a GSI1SK come back in no particular order, so reading stops only past the GSI1SK of the
        `limit`-th item: every item tied with it is then in hand, and the merged order is exact."""
        values: dict[str, object] = {":pk": partition}
        condition = "GSI1PK = :pk"
        if after is not None:
            condition += " AND GSI1SK <= :sk" if newest_first else " AND GSI1SK >= :sk"
            values[":sk"] = after[0]
        query: QueryInputTypeDef = {
            "TableName": table_name,
            "IndexName": "GSI1",
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": items.to_values(values),
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        found: list[Item] = []
        while True:
            response = dynamodb.query(**query)
            page = response.get("Items", [])
            found += [item for item in page if after is None or _beyond(_position(item), after, newest_first)]
            next_key = response.get("LastEvaluatedKey")
            if not next_key:
                return found, False
            if len(found) >= limit and page:
                boundary = sorted(found, key=_position, reverse=newest_first)[limit - 1]["GSI1SK"]["S"]
                if page[-1]["GSI1SK"]["S"] != boundary:
                    return found, True
            query["ExclusiveStartKey"] = next_key


def _beyond(position: Position, after: Position, newest_first: bool) -> bool:
    return position < after if newest_first else position > after


def _is_position(start: Item) -> bool:
    return set(start) == {"GSI1SK", "PK"} and all(isinstance(v.get("S"), str) for v in start.values())
