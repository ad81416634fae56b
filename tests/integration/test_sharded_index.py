"""Hot keys: the pending-approval and audit listings spread over GSI1 shards, and read back whole, in order, a page at
a time (store/sharded_index.py), on moto's table built from template.yaml."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from smart_support.protocol.errors import ValidationFailed
from smart_support.store import items
from smart_support.store.approvals import AUDIT_INDEX, PENDING_INDEX, ApprovalStore, PendingApproval
from smart_support.store.sharded_index import INDEX_SHARDS
from smart_support.turns.models import Decision
from smart_support.turns.policy import args_hash

TABLE = "ConversationsTable"


def pending(n: int, requested_at: float) -> PendingApproval:
    args = {"order_id": f"{1000 + n}"}
    return PendingApproval(
        interrupt_id=f"i-{n:03d}",
        thread_id=f"t-{n:03d}",
        turn=1,
        owner=f"c-{n:03d}",
        action="cancel_order",
        args=args,
        args_hash=args_hash(args),
        description=f"Cancel order {1000 + n}",
        approver="customer",
        requested_at=requested_at,
        deadline=requested_at + 600,
        task_token=f"token-{n}",
    )


def index_partitions(dynamodb: Any, sk: str) -> Counter[str]:
    """How many items of kind `sk` each GSI1 partition lists."""
    found = dynamodb.scan(TableName=TABLE, FilterExpression="SK = :sk", ExpressionAttributeValues={":sk": {"S": sk}})
    return Counter(item["GSI1PK"]["S"] for item in found["Items"])


def every_page(read: Any, limit: int) -> tuple[list[Any], int]:
    """Everything a listing returns, following next_cursor; and how many pages it took."""
    seen: list[Any] = []
    cursor, pages = None, 0
    while True:
        page, cursor = read(limit, cursor)
        seen += page
        pages += 1
        if cursor is None:
            return seen, pages
        assert pages < 100


def test_pending_approvals_spread_over_shards_and_list_whole_oldest_first(dynamodb):
    store = ApprovalStore(TABLE, dynamodb=dynamodb)
    now = time.time()
    # Given 40 approvals of 40 customers asked one after another (and one asked again: a retried task)
    for n in range(40):
        store.register(pending(n, now + n))
    store.register(pending(7, now + 7).model_copy(update={"task_token": "token-7-retried"}))
    # Then no index partition takes them all: they spread over the shards, never the former single partition
    spread = index_partitions(dynamodb, "PENDING")
    assert sum(spread.values()) == 40
    assert set(spread) <= set(PENDING_INDEX.partitions()[:INDEX_SHARDS]) and len(spread) >= INDEX_SHARDS - 2
    assert max(spread.values()) < 40 / 2
    # When an operator pages through them 7 at a time
    seen, pages = every_page(lambda limit, cursor: store.list_pending(now, limit, cursor), 7)
    # Then every approval is listed once, oldest first, across the shards' merge
    assert [p.interrupt_id for p in seen] == [f"i-{n:03d}" for n in range(40)]
    assert pages == 6


def test_approvals_asked_at_the_same_moment_page_without_loss_or_repeat(dynamodb):
    store = ApprovalStore(TABLE, dynamodb=dynamodb)
    now = time.time()
    # Given 25 approvals with the same requested_at (ties in the index's sort key, in every shard)
    for n in range(25):
        store.register(pending(n, now))
    # When they are paged 4 at a time
    seen, _ = every_page(lambda limit, cursor: store.list_pending(now, limit, cursor), 4)
    # Then each comes exactly once
    ids = [p.interrupt_id for p in seen]
    assert sorted(ids) == [f"i-{n:03d}" for n in range(25)] and len(set(ids)) == 25


def test_the_audit_trail_spreads_over_shards_and_reads_newest_first_with_the_records_of_before(dynamodb):
    store = ApprovalStore(TABLE, dynamodb=dynamodb)
    start = 1_790_000_000.0
    # Given 30 final decisions, ten of them within the same second (ties in decided_at)
    for n in range(30):
        approval = pending(n, start)
        decided_at = start + (n if n < 20 else 20.5)
        store.finalize(approval.subject(), Decision(approved=n % 2 == 0, decided_by="operator"), decided_at, {})
    # And one record written before the index was sharded, under its single partition
    old = pending(99, start - 100)
    store.finalize(old.subject(), Decision(approved=True, decided_by="customer"), start - 100, {})
    dynamodb.update_item(
        TableName=TABLE,
        Key={"PK": {"S": "AUDIT#i-099"}, "SK": {"S": "DECISION"}},
        UpdateExpression="SET GSI1PK = :legacy",
        ExpressionAttributeValues=items.to_values({":legacy": "AUDIT"}),
    )
    # Then the new records spread over the shards
    spread = index_partitions(dynamodb, "DECISION")
    assert spread["AUDIT"] == 1 and len(spread) >= INDEX_SHARDS - 2 and max(spread.values()) < 15
    # When the audit trail is paged 6 at a time
    seen, _ = every_page(store.audit_log, 6)
    # Then every decision is there once, newest first, the record from before last
    ids = [record["interrupt_id"] for record in seen]
    assert len(ids) == 31 and len(set(ids)) == 31
    assert set(ids[:10]) == {f"i-{n:03d}" for n in range(20, 30)}  # the ten of the same second, in some order
    assert ids[10:30] == [f"i-{n:03d}" for n in range(19, -1, -1)]
    assert ids[-1] == "i-099"
    assert all("GSI1PK" not in record for record in seen)


def test_a_cursor_this_api_did_not_hand_out_is_refused(dynamodb):
    store = ApprovalStore(TABLE, dynamodb=dynamodb)
    for forged in ("forged", "eyJQSyI6eyJTIjoiQVBQUk9WQUwjaS0xIn19"):  # the second: {"PK": {"S": "APPROVAL#i-1"}}
        with pytest.raises(ValidationFailed):
            store.list_pending(time.time(), 5, forged)
    assert AUDIT_INDEX.partition("i-1") == AUDIT_INDEX.partition("i-1") != PENDING_INDEX.partition("i-1")
