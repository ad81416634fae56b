"""Contention: many conversations at once on the strict local stack (per-item DynamoDB locking, real conflicts).

Every thread is its own customer on its own WebSocket and sends several turns, one after another, all threads at
once. Reported:
turns per second, retries per turn (the SDK's own, and the attempts that failed transiently and were tried again by
our code), transaction conflicts the emulator saw, and how the DynamoDB writes spread over items: the largest share
any single item received (goal: no item above 1/threads; a per-thread item such as a session gets about that).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

from websockets.sync.client import connect

from bench.metrics import RecordedStack
from bench.turns import PLAIN_PROMPTS
from smart_support.aws import TRANSIENT_CODES

CONVERSATION = (*PLAIN_PROMPTS, "What is your return policy?")


def _talk(stack: RecordedStack, token: str, thread_id: str, turns: int, done: list[float], errors: list[str]) -> None:
    with connect(stack.ws_url(token), open_timeout=30, max_size=2**20) as conn:
        for n in range(turns):
            frame = {"type": "message", "thread_id": thread_id, "content": CONVERSATION[n % len(CONVERSATION)]}
            conn.send(json.dumps({**frame, "message_id": uuid.uuid4().hex}))
            while True:
                event = json.loads(conn.recv(timeout=120))
                if event["type"] == "message_complete":
                    done.append(time.perf_counter())
                    break
                if event["type"] == "error":
                    errors.append(str(event.get("code")))
                    break


def _item_label(key: tuple[str, str]) -> str:
    table, raw = key
    parts = [next(iter(v.values())) for v in json.loads(raw) if v]
    return f"{table}:{'/'.join(str(p) for p in parts)}"


def measure_contention(threads: int = 32, turns: int = 4) -> dict[str, Any]:
    """Run `threads` conversations of `turns` turns at once; throughput, retries and the write spread."""
    from local.moto_patches.item_locks import LOCKS

    with RecordedStack(OFFLINE_TOKEN_DELAY_MS="0") as stack:
        recorder = stack.recorder
        warm: list[float] = []
        _talk(stack, stack.token("contention-warmup"), "contention-warmup", 1, warm, [])  # cold starts, not measured
        writes_before = Counter(LOCKS.writes)
        conflicts_before = LOCKS.conflicts
        before = recorder.snapshot()
        done: list[float] = []
        errors: list[str] = []
        workers = [  # one customer each: the per-principal rate limits are not what this measures
            threading.Thread(
                target=_talk, args=(stack, stack.token(f"c-{i:03d}"), f"contention-{i:03d}", turns, done, errors)
            )
            for i in range(threads)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(600)
        elapsed = time.perf_counter() - started
        time.sleep(0.5)  # the last executions' bookkeeping
        usage = recorder.snapshot().diff(before)
        writes = Counter(LOCKS.writes) - writes_before
        conflicts = LOCKS.conflicts - conflicts_before

    completed = len(done)
    total_writes = sum(writes.values())
    sdk_retries = sum(usage.retries.values())
    retried_codes = TRANSIENT_CODES | {"TransactionCanceledException"}
    transient_failures = sum(n for (_, _, _, code), n in usage.errors.items() if code in retried_codes)
    hottest = writes.most_common(5)
    return {
        "threads": threads,
        "turns_per_thread": turns,
        "turns_completed": completed,
        "errors": dict(Counter(errors)),
        "seconds": round(elapsed, 2),
        "turns_per_second": round(completed / elapsed, 2) if elapsed else None,
        "sdk_retries_per_turn": round(sdk_retries / max(1, completed), 3),
        "failed_attempts_retried_per_turn": round(transient_failures / max(1, completed), 3),
        "retries_per_turn": round((sdk_retries + transient_failures) / max(1, completed), 3),
        "transaction_conflicts": conflicts,
        "dynamodb_writes": total_writes,
        "dynamodb_writes_per_turn": round(total_writes / max(1, completed), 2),
        "items_written": len(writes),
        "largest_item_share": round(hottest[0][1] / total_writes, 4) if hottest else None,
        "share_goal": round(1 / threads, 4),
        "hottest_items": [{"item": _item_label(k), "writes": v} for k, v in hottest],
    }


__all__ = ["measure_contention"]
