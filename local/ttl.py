"""DynamoDB's TTL process, locally: items past their table's TTL attribute are really deleted.

AWS: "DynamoDB automatically deletes expired items within a few days of their expiration time" (DynamoDB
Developer Guide, "Using time to live (TTL) in DynamoDB"); until then reads still return them. moto 5.2.5 stores a
table's TTL setting and never deletes anything. Here a sweeper deletes, every `TTL_SWEEP_SECONDS`, the items whose
TTL attribute is past, holding each table as item_locks' scans do (later than the TTL, as DynamoDB, so every read
must still check `expires_at` itself). It patches nothing of moto. Upstream: a TTL worker in moto's DynamoDB
backend (as localstack/localstack#10041 added to LocalStack).
"""

from __future__ import annotations

import threading
import time

from local.moto_patches.item_locks import LOCKS, Plan


def sweep_expired(now: float | None = None) -> int:
    """Delete every item past its table's TTL attribute; returns how many."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    now = time.time() if now is None else now
    deleted = 0
    for backend in list(dynamodb_backends[DEFAULT_ACCOUNT_ID].values()):
        for name, table in list(backend.tables.items()):
            attribute = table.ttl.get("AttributeName")
            if table.ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                continue
            plan = Plan(scans={name})
            LOCKS.acquire(plan)
            try:
                for item in table.all_items():
                    value = item.attrs.get(attribute)
                    if value is not None and value.type == "N" and float(value.value) <= now:
                        table.delete_item(item.hash_key, item.range_key)
                        deleted += 1
            finally:
                LOCKS.release(plan, succeeded=False)
    return deleted


class TtlSweeper:
    """A daemon thread that calls `sweep_expired` every `interval` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.deleted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ttl-sweeper", daemon=True)

    def start(self) -> TtlSweeper:
        """Begin sweeping."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current sweep."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deleted += sweep_expired()
            except Exception as exc:  # a sweep must never take the stack down
                print(f"warning: TTL sweep failed: {exc!r}", flush=True)
