"""A running turn on the session item: it waits for an approval and runs again, may be asked to stop, and ends with
its run's transcript and counters in one transaction (back to idle, unless messages were queued behind it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from smart_support.clock import iso
from smart_support.store import analytics
from smart_support.store.dynamodb import TransactionCancelled, transact_write
from smart_support.store.sessions.item import Session, thread_key
from smart_support.store.sessions.ownership import ThreadOwnership
from smart_support.store.sessions.table import SessionTable
from smart_support.store.transcript import segment_item

if TYPE_CHECKING:
    from types_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef, UpdateTypeDef

    from smart_support.store.transcript import TranscriptEntry

logger = Logger(child=True)


class TurnLifecycle:
    """The status of a thread's started turn: running (-> awaiting_approval -> running ...) -> idle."""

    def __init__(self, table: SessionTable, ownership: ThreadOwnership) -> None:
        self.table = table
        self.ownership = ownership

    def mark_awaiting_approval(
        self, thread_id: str, turn: int, interrupt_id: str, approval_expires_at: float, now: float | None = None
    ) -> Session | None:
        """The turn waits for a human; the session lives at least until the approval resolves."""
        now = time.time() if now is None else now
        expires = int(max(now, approval_expires_at)) + self.table.ttl_seconds
        update = self.table.turn_update(
            thread_id,
            turn,
            "SET #status = :awaiting, pending_interrupt_id = :iid, updated_at = :stamp, expires_at = :exp",
            {
                ":awaiting": "awaiting_approval",
                ":iid": interrupt_id,
                ":stamp": iso(now),
                ":exp": expires,
                ":running": "running",
            },
        )
        # Only a turn still running (or a retried task's same approval): a slow task must never park a turn that
        # its approval's timeout already finished (the thread would wait forever for a closed approval).
        update["ConditionExpression"] += (
            " AND (#status = :running OR (#status = :awaiting AND pending_interrupt_id = :iid))"
        )
        return self.table.apply(update)

    def mark_running(
        self, thread_id: str, turn: int, interrupt_id: str, now: float | None = None, *, awaiting_only: bool = False
    ) -> Session | None:
        """A decision on `interrupt_id` arrived: the turn runs again. `awaiting_only`: only if the thread still waits
        for it (a decider's late update must not mark running a turn the resumed run already finished)."""
        now = time.time() if now is None else now
        update = self.table.turn_update(
            thread_id,
            turn,
            "SET #status = :running, updated_at = :stamp, expires_at = :exp, last_interrupt_id = :iid"
            " REMOVE pending_interrupt_id",
            {
                ":running": "running",
                ":stamp": iso(now),
                ":exp": int(now) + self.table.ttl_seconds,
                ":iid": interrupt_id,
            },
        )
        if awaiting_only:
            update["ConditionExpression"] += " AND pending_interrupt_id = :iid"
        return self.table.apply(update)

    def request_cancel(self, thread_id: str, owner: str, now: float | None = None) -> Session:
        """Ask the running turn to stop (it checks while it streams); returns the session as it was."""
        now = time.time() if now is None else now
        session = self.ownership.get_visible(thread_id, owner, now=now)
        if session.status == "idle":
            return session
        applied = self.table.update_for_turn(
            thread_id,
            session.turn,
            "SET cancel_turn = :turn",
            {},
        )
        return applied or session

    def cancel_requested(self, thread_id: str, turn: int) -> bool:
        """True once `cancel` asked this turn to stop."""
        response = self.table.dynamodb.get_item(
            TableName=self.table.table_name,
            Key=thread_key(thread_id),
            ProjectionExpression="cancel_turn",
            ConsistentRead=True,
        )
        value = (response.get("Item") or {}).get("cancel_turn", {}).get("N")
        return value is not None and int(value) == turn

    def finish_turn(self, thread_id: str, turn: int, now: float | None = None) -> Session | None:
        """Back to idle after `turn` (sliding TTL); None if the thread moved on or is gone."""
        return self.table.apply(self._finish_update(thread_id, turn, time.time() if now is None else now))

    def end_run(
        self,
        thread_id: str,
        turn: int,
        entries: list[TranscriptEntry],
        counters: dict[str, int],
        *,
        finished: bool,
        now: float,
        run: int | None = None,
    ) -> bool:
        """Store a run's transcript and counters and, once the turn `finished`, return the thread to idle: one
        transaction. False when the thread had moved on (a newer turn owns it): transcript and counters are kept.

        The transcript segment is written only if absent, so a retried task that finds it (an earlier attempt whose
        answer was lost wrote everything) changes nothing. Conflicts and throttling are retried; a cancellation that
        outlasts the retries is raised (TransactionCancelled, `transient`), never taken for "the thread moved on".
        """
        run = int(now * 1000) % 10**13 if run is None else run
        segment = segment_item(thread_id, turn, run, entries, now)
        put: PutTypeDef = {
            "TableName": self.table.table_name,
            "Item": segment,
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        writes: list[TransactWriteItemTypeDef] = [{"Put": put}]
        if counters:
            writes.append({"Update": analytics.counters_update(self.table.table_name, counters)})
        if finished:
            writes.append({"Update": self._finish_update(thread_id, turn, now)})
        try:
            transact_write(self.table.dynamodb, writes)
        except TransactionCancelled as cancelled:
            if cancelled.failed_at(0):  # an earlier attempt wrote it all; is the thread idle (or still queued)?
                logger.info("transcript already written by an earlier attempt", extra={"thread_id": thread_id})
                session = self.table.get(thread_id)
                return not finished or session is None or session.turn != turn or session.status == "idle"
            if not finished or not cancelled.failed_at(len(writes) - 1):
                raise
            transact_write(self.table.dynamodb, writes[:-1])
            return False
        return True

    def _finish_update(self, thread_id: str, turn: int, now: float) -> UpdateTypeDef:
        """The Update that returns the thread to idle after `turn` (alone, or inside a transaction)."""
        update = self.table.turn_update(
            thread_id,
            turn,
            "SET #status = :idle, updated_at = :stamp, expires_at = :exp, GSI1SK = :stamp"
            " REMOVE pending_interrupt_id, cancel_turn",
            {":idle": "idle", ":stamp": iso(now), ":exp": int(now) + self.table.ttl_seconds, ":none": 0},
        )
        # A message queued meanwhile makes the next turn instead (see MessageQueue.advance()).
        update["ConditionExpression"] += " AND (attribute_not_exists(queued) OR size(queued) = :none)"
        return update
