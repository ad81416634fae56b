"""The approval ledger's invariants under a soak: hundreds of gated writes decided every way there is, at once, while
DynamoDB conflicts and throttles and Step Functions throttles (docs/approvals.md, DESIGN.md "The agent").

The local stack runs in this process with a short approval timeout. Customers of their own (each with its own orders)
talk on threads of their own, a few at a time, each with its own WebSocket; a seeded random plan chooses, per request,
the action (cancel, refund up to or over $50, new address) and how it is decided: the customer approves or rejects in
the chat, an operator approves (with or without an edit) or rejects, the customer presses Stop, nobody decides until
it times out, a decision is sent twice (the same frame twice, or two deciders racing), or the request is repeated in
the next message. After every step, for every interrupt id seen so far:

1. at most one decision: at most one `interrupt_resolved` per id, at most one decider answered as accepted, and the
   final audit record is that decider's (or `expired` when nobody's was accepted);
2. the audit is what ran: approved/edited <=> the id is in the order's `action_ids` (the order holds what ran);
   rejected/withdrawn/expired => it is not;
3. the pending list (every page) is exactly the seen ids without a final audit record;
4. every turn ends (one `message_complete`) and no thread stays `running`.

The checks that need a thread at rest (2, 3 and the "final" half of 1) are made for the threads whose worker waits at
a quiet point (its turn ended, or it waits for an approval) while the ledger is read; the rest hold at any time. The
ledger is read directly (the audit records `AUDIT#<id>`, the orders) from the in-process moto; the pending list through
GET /api/v1/approvals, every page.

SOAK_SEED picks the plan (printed on failure; the races' interleaving is the machine's), SOAK_REQUESTS the number of
gated requests (default 200: one to two minutes on two cores; `make soak`: 2,000), SOAK_WORKERS how many threads run
at once (12), SOAK_THREADS the least number of threads (24; more when the requests need them, about 9 each).
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.inprocess import InProcessStack
from smart_support.store import items
from smart_support.store.approvals import AUDIT_INDEX
from smart_support.store.orders import Order, OrderItem, OrderStatus, OrderStore
from tests.e2e.conftest import Client, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

SEED = int(os.environ.get("SOAK_SEED") or 20261207)
REQUESTS = int(os.environ.get("SOAK_REQUESTS") or 200)
WORKERS = int(os.environ.get("SOAK_WORKERS") or 12)
REQUESTS_PER_THREAD = 9
MIN_THREADS = int(os.environ.get("SOAK_THREADS") or 24)
APPROVAL_TIMEOUT_SECONDS = 4
# Transient faults the stack's retries absorb: the decisions and the ledger's transactions conflict, single-item writes
# (sessions, orders, the decider's lease) and SendTaskSuccess are throttled.
FAULTS = ",".join(
    [
        "dynamodb.TransactWriteItems=TransactionConflict@0.1",
        "dynamodb.UpdateItem=ThrottlingException@0.05",
        "stepfunctions.SendTaskSuccess=ThrottlingException@0.1",
    ]
)
TURN_SECONDS = 45.0  # a turn that has not ended by then never will (invariant 4)
ANSWER_SECONDS = 10.0  # how long a decision frame may take to be refused
REREAD = 24  # final records read again per check (besides those not checked at rest yet)
NEAR_DEADLINE = 0.75  # seconds before `expires_at` from which an approval may be timing out under our feet

# How a request is decided (relative weights)
CHOICES = {
    "customer_approve": 13,
    "customer_reject": 10,
    "operator_approve": 12,
    "operator_edit": 10,
    "operator_reject": 9,
    "withdraw": 9,
    "timeout": 6,
    "double": 18,
    "repeat": 9,
}
DOUBLES = ("same_frame", "operators_race", "customer_vs_operator", "withdraw_vs_operator")
SIMPLE = ("customer_approve", "customer_reject", "operator_approve", "operator_reject", "operator_edit")
DECISION_ERRORS = {"approval_expired", "no_pending_interrupt", "forbidden", "internal_error"}
FINAL_OUTCOMES = {"approved", "edited", "rejected", "withdrawn", "expired"}
TURN_FAILED = ("went wrong while answering", "could not be answered")  # the words of an error that ends a turn


def replay_hint() -> str:
    threads = f" SOAK_THREADS={MIN_THREADS}" if os.environ.get("SOAK_THREADS") else ""
    return (
        f"seed {SEED}: replay with SOAK_SEED={SEED} SOAK_REQUESTS={REQUESTS} SOAK_WORKERS={WORKERS}{threads} make soak"
    )


class StepFailed(Exception):
    """A worker met something it cannot go on from (a turn that never ended, an unexpected event)."""


# ---------------------------------------------------------------- what the clients saw


@dataclass
class Decider:
    """One attempt to decide: who, as whom, with which outcome, and what they were told."""

    who: str  # customer | operator
    sub: str
    outcome: str  # the outcome this decider asked for
    answer: str  # "200", "409", "error:approval_expired", "accepted", ...


@dataclass
class Approval:
    """One interrupt id as the clients saw it."""

    interrupt_id: str
    thread_id: str
    customer: str
    action: str
    args: dict[str, Any]
    approver: str
    expires_at: float
    turn_end: int  # the count of message_complete on its thread that ends its turn
    request: int
    choice: str = ""
    interrupts: int = 1
    resolved: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[Decider] = field(default_factory=list)
    refused: list[Decider] = field(default_factory=list)
    withdraw_tried: bool = False
    closed: bool = False  # its turn ended: the ledger must be settled
    verified: bool = False  # checked in full at rest after its turn ended
    final: dict[str, Any] | None = None  # the first final audit record the checker read

    def describe(self) -> str:
        return (
            f"interrupt {self.interrupt_id} (request #{self.request}, thread {self.thread_id},"
            f" customer {self.customer}, {self.action} {self.args}, approver {self.approver},"
            f" choice {self.choice!r})"
        )

    def history(self) -> str:
        resolved = [
            {k: e.get(k) for k in ("approved", "decided_by", "outcome", "args", "comment")} for e in self.resolved
        ]
        return f"accepted={self.accepted} refused={self.refused} interrupt_resolved={resolved}"


@dataclass
class ThreadRest:
    """Whether a thread's worker waits at a quiet point (and which approval its thread awaits there)."""

    quiet: bool = False
    awaiting: str | None = None
    ticket: float = 0  # the check it waits for (inf once its worker is done with it)


def audit_summary(record: dict[str, Any] | None) -> str:
    if record is None:
        return "no audit record"
    keys = ("state", "outcome", "decided_by", "decided_by_id", "args", "ran_args", "edited_args", "comment")
    return "audit " + str({k: record.get(k) for k in keys})


# ---------------------------------------------------------------- the ledger and its checks


class Ledger:
    """Everything seen, and the invariants checked against the stack's tables and API after every step.

    Checks are coalesced: a worker asks for one after its step and waits until a check that began after its request
    has finished (so at most one check runs at a time, and every step is followed by one)."""

    def __init__(self, inproc: InProcessStack, client: Stack) -> None:
        env = inproc.stack.functions.functions["AgentFunction"].environment
        self.orders_table = env["ORDERS_TABLE"]
        self.conversations_table = env["CONVERSATIONS_TABLE"]
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")  # no principal: no IAM, no faults
        self.client = client
        self.operator = client.token("ops-soak-checker", "operator")
        self.lock = threading.RLock()
        self.approvals: dict[str, Approval] = {}
        self.rest: dict[str, ThreadRest] = {}
        self.thread_of_customer: dict[str, str] = {}
        self.orders_of_thread: dict[str, list[str]] = {}
        self.conversations: dict[str, Conversation] = {}
        self.violations: list[str] = []
        self.notes: list[str] = []  # what is not a violation but worth reading (retryable failures)
        self.early: dict[str, dict[str, Any]] = {}  # interrupt_resolved for ids whose `interrupt` had not come
        self.failed = threading.Event()
        self.counts: Counter[str] = Counter()
        self.checks = 0
        self._cv = threading.Condition(self.lock)
        self._requested = 0
        self._done = 0
        self._stopping = False
        self._checker = threading.Thread(target=self._run_checks, name="soak-checker", daemon=True)

    # ------------------------------------------------------------ bookkeeping
    def add_thread(self, thread_id: str, customer: str, order_ids: list[str]) -> None:
        with self.lock:
            self.rest[thread_id] = ThreadRest()
            self.thread_of_customer[customer] = thread_id
            self.orders_of_thread[thread_id] = order_ids

    def violate(self, invariant: int | str, text: str) -> None:
        with self.lock:
            message = f"invariant {invariant}: {text}"
            if message not in self.violations:
                self.violations.append(message)
        self.failed.set()

    def saw_interrupt(self, conv: Conversation, event: dict[str, Any], request: int) -> Approval:
        with self.lock:
            known = self.approvals.get(event["interrupt_id"])
            if event["interrupt_id"] in self.early:
                self.violate(
                    4,
                    f"the `interrupt` for {event['interrupt_id']} ({event.get('action')} {event.get('args')}) reached"
                    f" {conv.thread_id} after its interrupt_resolved {self.early[event['interrupt_id']]} and after that"
                    " turn's message_complete: the AwaitApproval task parked the thread on an approval the timeout had"
                    " already closed (the thread is then left awaiting_approval with nothing pending)",
                )
            if known is not None:
                known.interrupts += 1
                self.counts["interrupt events repeated"] += 1
                if known.thread_id != conv.thread_id:
                    self.violate(1, f"interrupt id {known.interrupt_id} reused on {conv.thread_id}: {known.describe()}")
                return known
            approval = Approval(
                interrupt_id=event["interrupt_id"],
                thread_id=conv.thread_id,
                customer=conv.customer,
                action=event["action"],
                args=event["args"],
                approver=event["approver"],
                expires_at=datetime.fromisoformat(event["expires_at"].replace("Z", "+00:00")).timestamp(),
                turn_end=conv.completes + 1,
                request=request,
            )
            self.approvals[approval.interrupt_id] = approval
            self.counts["interrupt ids"] += 1
            return approval

    def saw_resolved(self, conv: Conversation, event: dict[str, Any]) -> None:
        with self.lock:
            approval = self.approvals.get(event.get("interrupt_id", ""))
            if approval is None:
                self.early[event.get("interrupt_id", "")] = event
                self.violate(
                    4,
                    f"{conv.thread_id} got interrupt_resolved for {event.get('interrupt_id')} before any `interrupt`"
                    f" asked it: {event}; the session says {self.session_of(conv.thread_id)}; {conv.tail(24)}",
                )
                return
            approval.resolved.append(event)
            if len(approval.resolved) > 1:
                self.violate(
                    1, f"{approval.describe()} was resolved {len(approval.resolved)} times: {approval.history()}"
                )

    # ------------------------------------------------------------ quiet points
    def checkpoint(self, conv: Conversation, awaiting: Approval | None = None) -> None:
        """The worker's thread is at rest: check every invariant (after this step) before it moves on."""
        with self._cv:
            rest = self.rest[conv.thread_id]
            rest.quiet, rest.awaiting = True, awaiting.interrupt_id if awaiting else None
            self._requested += 1
            ticket = rest.ticket = self._requested
            self._cv.notify_all()
            while self._done < ticket and not self._stopping:
                self._cv.wait(1)
            rest.quiet, rest.awaiting = False, None

    def finished(self, thread_id: str) -> None:
        """The worker is done with this thread for good: it stays at rest."""
        with self._cv:
            rest = self.rest[thread_id]
            rest.quiet, rest.awaiting, rest.ticket = True, None, math.inf

    def start(self) -> None:
        self._checker.start()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._checker.join(30)

    def _run_checks(self) -> None:
        while True:
            with self._cv:
                while self._requested == self._done and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                upto = self._requested
                # at rest for the whole check: the workers waiting for it (one whose earlier check is done may leave)
                at_rest = {t: r.awaiting for t, r in self.rest.items() if r.quiet and r.ticket > self._done}
                finished = {t for t, r in self.rest.items() if r.ticket == math.inf}
            try:
                self.check(at_rest, finished)
            except Exception:
                self.violate("check", f"reading the ledger failed:\n{traceback.format_exc()}")
            with self._cv:
                self._done = upto
                self._cv.notify_all()

    # ------------------------------------------------------------ reading the stack
    def _query_gsi(self, partition: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.conversations_table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
        }
        while True:
            page = self.dynamodb.query(**kwargs)
            for item in page.get("Items", []):
                record = items.from_item(item) or {}
                found[str(record["interrupt_id"])] = record
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def audits(self) -> dict[str, dict[str, Any]]:
        """Every audit record (`AUDIT#<id>` / `DECISION`), by interrupt id."""
        found: dict[str, dict[str, Any]] = {}
        for partition in AUDIT_INDEX.partitions():
            found.update(self._query_gsi(partition))
        return found

    def pending_list(self) -> dict[str, dict[str, Any]]:
        """GET /api/v1/approvals?status=pending, every page."""
        found: dict[str, dict[str, Any]] = {}
        cursor = ""
        for _ in range(1000):
            path = "/api/v1/approvals?status=pending&limit=100" + (f"&cursor={cursor}" if cursor else "")
            for _attempt in range(5):
                status, body = self.client.http("GET", path, self.operator)
                if status < 500:
                    break
                time.sleep(0.1)
            if status != 200:
                raise AssertionError(f"GET {path} answered {status}: {body}")
            for approval in body["approvals"]:
                if approval["interrupt_id"] in found:
                    self.violate(3, f"the pending list holds {approval['interrupt_id']} twice")
                found[approval["interrupt_id"]] = approval
            cursor = body.get("next_cursor") or ""
            if not cursor:
                return found
        raise AssertionError("the pending list never ended")

    def _batch_get(self, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Consistent reads of `keys` (BatchGetItem, 100 at a time, unprocessed keys asked again)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                page = self.dynamodb.batch_get_item(RequestItems=request)
                found.extend(page["Responses"].get(table, []))
                request = page.get("UnprocessedKeys") or {}
        return found

    def records(self, interrupt_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The audit records (`AUDIT#<id>` / `DECISION`) of these ids."""
        keys = [{"PK": {"S": f"AUDIT#{i}"}, "SK": {"S": "DECISION"}} for i in sorted(interrupt_ids)]
        found = (items.from_item(item) or {} for item in self._batch_get(self.conversations_table, keys))
        return {str(record["interrupt_id"]): record for record in found}

    def orders(self, order_ids: list[str]) -> dict[str, Order]:
        keys = [{"order_id": {"S": order_id}} for order_id in order_ids]
        found = (Order.from_item(item) for item in self._batch_get(self.orders_table, keys))
        return {order.order_id: order for order in found}

    def session_of(self, thread_id: str) -> dict[str, Any]:
        """What GET /api/v1/sessions/{id} says (for failure messages)."""
        status, body = self.client.http("GET", f"/api/v1/sessions/{thread_id}", self.operator)
        if status != 200:
            return {"status": status, "body": body}
        pending = (body.get("pending_interrupt") or {}).get("interrupt_id")
        return {k: body.get(k) for k in ("status", "turns", "updated_at")} | {"pending_interrupt": pending}

    def order(self, order_id: str) -> Order:
        item = self.dynamodb.get_item(
            TableName=self.orders_table, Key={"order_id": {"S": order_id}}, ConsistentRead=True
        )["Item"]
        return Order.from_item(item)

    # ------------------------------------------------------------ the invariants
    def check(self, at_rest: dict[str, str | None], finished: set[str] | None = None, *, full: bool = False) -> None:
        """Every invariant for every id seen so far; those that need a thread at rest for the threads in `at_rest`.

        The ledger is read for every id not final yet, every id of a thread at rest not checked at rest since it was
        decided, and (in turn, so that each is read again and again) a share of the others; an id not read is held
        to the final record read before (it must never change). The final check reads everything."""
        self.checks += 1
        finished = finished or set()
        with self.lock:
            approvals = list(self.approvals.values())
            seen = set(self.approvals)
        resting = [a for a in approvals if a.thread_id in at_rest and a.thread_id not in finished]
        start = (self.checks * REREAD) % max(1, len(resting))
        again = {a.interrupt_id for a in (resting + resting)[start : start + REREAD]}
        fresh = [
            a
            for a in approvals
            if full
            or a.final is None
            or a.interrupt_id in again
            or (a.thread_id in at_rest and (not a.verified or at_rest[a.thread_id] == a.interrupt_id))
        ]
        read = {a.interrupt_id for a in fresh}
        order_ids = {str(a.args.get("order_id")) for a in fresh if a.thread_id in at_rest}
        if full:
            order_ids |= {order_id for thread in at_rest for order_id in self.orders_of_thread[thread]}
        pending = self.pending_list()  # first: a decision that lands meanwhile is in the records read next
        listed = time.time()
        audits = self.records(read)
        orders = self.orders(sorted(order_ids))
        ran = {action_id for order in orders.values() for action_id in order.action_ids}
        audits.update(self.records(ran - read))
        for approval in approvals:
            if approval.interrupt_id in read:
                record = audits.get(approval.interrupt_id)
                self._check_approval(approval, record, orders, pending, at_rest, listed)
                if approval.thread_id in at_rest and approval.closed:
                    approval.verified = True  # checked in full, at rest, after its decision
            else:
                self._check_approval(approval, approval.final, orders, pending, {}, listed)
        for interrupt_id, view in pending.items():  # 3: nothing pending that no client was asked
            if view.get("thread_id") in at_rest and interrupt_id not in seen:
                thread = str(view.get("thread_id"))
                conversation = self.conversations.get(thread)
                self.violate(
                    3,
                    f"the pending list holds {interrupt_id} ({view.get('action')} {view.get('args')}, requested"
                    f" {view.get('requested_at')}, expires {view.get('expires_at')}) of thread {thread}, at rest"
                    f" (awaiting {at_rest[thread]}), whose client never got its `interrupt`; the session says"
                    f" {self.session_of(thread)}; " + (conversation.tail(24) if conversation else ""),
                )
        for order in orders.values():  # 2: nothing ran that the ledger does not say was approved
            owner = self.thread_of_customer.get(order.customer_id)
            if owner not in at_rest:
                continue
            for action_id in order.action_ids:
                record = audits.get(action_id)
                known = self.approvals.get(action_id)
                if (record or {}).get("state") != "final" or (record or {}).get("outcome") not in (
                    "approved",
                    "edited",
                ):
                    where = known.describe() if known else f"an id no client was asked about, on {owner}"
                    self.violate(
                        2,
                        f"order {order.order_id} ran action {action_id} ({where}) but the ledger says"
                        f" {audit_summary(record)}" + (f"; {known.history()}" if known else ""),
                    )

    def _check_approval(
        self,
        a: Approval,
        record: dict[str, Any] | None,
        orders: dict[str, Order],
        pending: dict[str, dict[str, Any]],
        at_rest: dict[str, str | None],
        listed: float,
    ) -> None:
        # 1, at any time: one interrupt_resolved, one accepted decider, a final record never changes
        if len(a.resolved) > 1:
            self.violate(1, f"{a.describe()} was resolved {len(a.resolved)} times: {a.history()}")
        if len(a.accepted) > 1:
            self.violate(1, f"{a.describe()} was accepted from {len(a.accepted)} deciders: {a.history()}")
        if record is not None and record.get("state") == "final":
            if a.final is None:
                a.final = record
            elif _ledger_view(record) != _ledger_view(a.final):
                self.violate(
                    1,
                    f"{a.describe()}: its final audit record changed from {audit_summary(a.final)} to"
                    f" {audit_summary(record)}",
                )
        elif a.final is not None:
            self.violate(1, f"{a.describe()}: its final audit record became {audit_summary(record)}")
        if a.thread_id not in at_rest:
            return
        order = orders.get(str(a.args.get("order_id")))
        ran = order is not None and a.interrupt_id in order.action_ids
        if at_rest[a.thread_id] == a.interrupt_id and not a.closed:
            # awaiting this approval: undecided, pending, nothing ran. Step Functions' timer may end the wait a little
            # before the ledger's deadline (it started first): then the records (read after the list) say `expired`.
            timed_out = record is not None and record.get("decided_by") == "timeout"
            if record is not None and not timed_out:
                self.violate(1, f"{a.describe()} is still awaited but the ledger already says {audit_summary(record)}")
            if a.interrupt_id not in pending and not timed_out and listed < a.expires_at:
                self.violate(
                    3,
                    f"{a.describe()} awaits a decision (the list was read {a.expires_at - listed:.1f} s before its"
                    f" deadline) but is missing from the pending list; {a.history()}; {audit_summary(record)}",
                )
            if ran:
                self.violate(2, f"{a.describe()} ran although nobody decided it yet")
            return
        if not a.closed:
            return
        # decided, and its turn ended: final, once, by the accepted decider, and it is what ran
        context = f"{a.describe()}: {a.history()}; {audit_summary(record)}"
        if record is None or record.get("state") != "final":
            self.violate(1, f"its turn ended but the ledger has no final decision — {context}")
            return
        if a.interrupt_id in pending:
            self.violate(3, f"decided (final) but still in the pending list — {context}")
        if len(a.resolved) != 1:
            self.violate(1, f"its client saw {len(a.resolved)} interrupt_resolved for it — {context}")
        outcome = record.get("outcome")
        if outcome not in FINAL_OUTCOMES:
            self.violate(1, f"unknown outcome {outcome!r} — {context}")
        if a.accepted:
            winner = a.accepted[0]
            if (record.get("decided_by"), record.get("decided_by_id"), outcome) != (
                winner.who,
                winner.sub,
                winner.outcome,
            ):
                self.violate(1, f"the decider told 'accepted' is not the one the ledger kept — {context}")
        else:
            withdrawn = outcome == "withdrawn" and a.withdraw_tried and record.get("decided_by_id") == a.customer
            if outcome != "expired" and not withdrawn:
                self.violate(1, f"no decider was told 'accepted', yet the ledger says {outcome!r} — {context}")
        if a.resolved:
            shown = a.resolved[0]
            if (shown.get("outcome"), shown.get("decided_by"), shown.get("approved")) != (
                outcome,
                record.get("decided_by"),
                record.get("approved"),
            ):
                self.violate(1, f"interrupt_resolved says another decision than the ledger — {context}")
            if record.get("approved") and shown.get("args") != record.get("ran_args"):
                self.violate(2, f"interrupt_resolved shows other arguments than the ledger ran — {context}")
        # 2: the audit is what ran
        if order is None:
            self.violate(2, f"order {a.args.get('order_id')} is gone — {context}")
            return
        applied = f"order {order.order_id}: action_ids {sorted(order.action_ids)}, last {order.last_action_id}"
        if outcome in ("approved", "edited"):
            if not ran:
                self.violate(2, f"the ledger says {outcome} but nothing ran ({applied}) — {context}")
                return
            runs = record.get("ran_args") or {}
            if outcome == "edited" and (not record.get("edited_args") or runs == record.get("args")):
                self.violate(2, f"'edited' without an edit — {context}")
            if outcome == "approved" and runs != record.get("args"):
                self.violate(2, f"'approved' ran other arguments than the request's — {context}")
            if order.last_action_id == a.interrupt_id:
                self._check_fields(a, order, runs, context)
        elif ran:
            self.violate(2, f"the ledger says {outcome} but the write ran ({applied}) — {context}")

    def _check_fields(self, a: Approval, order: Order, runs: dict[str, Any], context: str) -> None:
        """The order holds what the ledger says ran (it was the order's last write)."""
        if a.action == "cancel_order" and order.status != "cancelled":
            self.violate(2, f"approved cancellation, yet order {order.order_id} is {order.status} — {context}")
        if a.action == "request_refund":
            amount = order.refund_amount if order.refund_amount is not None else order.total
            if order.refund_status != "requested" or round(amount * 100) != runs.get("amount_cents"):
                self.violate(
                    2,
                    f"order {order.order_id} refunds {order.refund_status} ${amount} but the ledger ran {runs}"
                    f" — {context}",
                )
        if a.action == "update_shipping_address" and order.shipping_address != runs.get("address"):
            self.violate(
                2, f"order {order.order_id} ships to {order.shipping_address!r} but the ledger ran {runs} — {context}"
            )


def _ledger_view(record: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("outcome", "decided_by", "decided_by_id", "approved", "ran_args", "edited_args", "comment")
    return tuple(repr(record.get(k)) for k in keys)


# ---------------------------------------------------------------- one customer's thread


@dataclass
class Plan:
    """One customer, its thread, its orders, its share of the requests and its own random plan."""

    index: int
    requests: int
    seed: int
    processing: list[Order]
    delivered: list[Order]

    @property
    def customer(self) -> str:
        return f"c-soak-{self.index:03d}"

    @property
    def thread_id(self) -> str:
        return f"soak-{SEED}-{self.index:03d}"


class Conversation:
    """A worker's view of one thread: its WebSocket, the events it got, and the steps of its plan."""

    def __init__(self, soak: Soak, plan: Plan) -> None:
        self.soak = soak
        self.ledger = soak.ledger
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.customer = plan.customer
        self.thread_id = plan.thread_id
        self.token = soak.client.token(self.customer)
        self.orders = {o.order_id: o for o in (*plan.processing, *plan.delivered)}
        self.client: Client = soak.client.ws(self.token)
        self.events: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.turns = 0  # turns started (each message starts or queues one)
        self.completes = 0  # message_complete received
        self.request = 0
        self.decisions = 0
        self.current: Approval | None = None  # the approval the latest `interrupt` asked for
        self.started = time.monotonic()
        soak.ledger.conversations[self.thread_id] = self

    # ------------------------------------------------------------ the wire
    def send(self, frame: dict[str, Any]) -> None:
        self.events.append({"sent": frame.get("type"), "_at": self.clock(), "interrupt_id": frame.get("interrupt_id")})
        self.client.send(frame)

    def clock(self) -> float:
        """Seconds since this thread's worker began (in failure messages)."""
        return round(time.monotonic() - self.started, 2)

    def recv(self, timeout: float) -> dict[str, Any] | None:
        try:
            event = self.client.recv(timeout=max(timeout, 0.001))
        except TimeoutError:
            return None
        event["_at"] = self.clock()
        self.events.append(event)
        kind = event.get("type")
        if event.get("thread_id") not in (None, self.thread_id):
            self.ledger.violate(4, f"{self.thread_id}'s connection got an event of another thread: {event}")
        if kind == "interrupt":
            self.current = self.ledger.saw_interrupt(self, event, self.request)
        elif kind == "interrupt_resolved":
            self.ledger.saw_resolved(self, event)
        elif kind == "message_complete":
            self.completes += 1
            if self.completes > self.turns:
                self.ledger.violate(
                    4, f"{self.thread_id} got {self.completes} message_complete for {self.turns} turns: {self.tail()}"
                )
        elif kind == "error" and any(words in event.get("message", "") for words in TURN_FAILED):
            # a turn may end with one error instead of message_complete (the state machine's ReportFailure)
            self.completes += 1
            self.ledger.counts["turns ended by an error"] += 1
            self.ledger.notes.append(f"{self.thread_id}: a turn ended with {event}; {self.tail()}")
            if self.completes > self.turns:
                self.ledger.violate(4, f"{self.thread_id}: {self.completes} turn ends for {self.turns} turns")
        elif kind == "error":
            self.errors.append(event)
            if event.get("code") not in DECISION_ERRORS:
                self.ledger.violate(4, f"{self.thread_id} got an unexpected error {event}; {self.tail()}")
        return event

    def until(self, done: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailed(f"{self.thread_id}: no {what} within {seconds:.0f} s; {self.tail()}")
            self.recv(remaining)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.recv(remaining) is None:
                break

    def tail(self, n: int = 12) -> str:
        return f"last events {[_short(e) for e in self.events[-n:]]}"

    def message(self, content: str) -> None:
        self.turns += 1
        self.send({"type": "message", "thread_id": self.thread_id, "content": content})

    def turn_over(self, a: Approval) -> bool:
        return self.completes >= a.turn_end

    def wait_turn(self, a: Approval, seconds: float = TURN_SECONDS) -> None:
        self.until(lambda: self.turn_over(a), seconds, f"end of the turn of {a.interrupt_id}")

    def session(self) -> dict[str, Any]:
        status, body = self.soak.client.http("GET", f"/api/v1/sessions/{self.thread_id}", self.token)
        if status != 200:
            raise StepFailed(f"GET /api/v1/sessions/{self.thread_id} answered {status}: {body}")
        return body

    def wait_status(self, status: str, a: Approval | None = None) -> None:
        """4: the thread comes to rest (idle, or awaiting exactly this approval) and never stays running."""
        deadline = time.monotonic() + 15
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.session()
            pending = (body.get("pending_interrupt") or {}).get("interrupt_id")
            if body["status"] == status and (a is None or pending == a.interrupt_id):
                return
            if a is not None and time.time() >= a.expires_at - NEAR_DEADLINE:
                return  # timing out right now: the turn resumes
            time.sleep(0.05)
        self.ledger.violate(
            4,
            f"{self.thread_id} stays {body.get('status')!r} (pending {body.get('pending_interrupt')}) instead of"
            f" {status!r}" + (f" for {a.describe()}" if a else "") + f"; {self.tail()}",
        )

    # ------------------------------------------------------------ the plan
    def run(self) -> None:
        try:
            asked = 0
            while asked < self.plan.requests and not self.ledger.failed.is_set():
                asked += self.step(self.plan.requests - asked)
            self.drain(0.3)  # nothing more arrives for a thread at rest
            if self.completes != self.turns:
                self.ledger.violate(
                    4, f"{self.thread_id}: {self.turns} turns but {self.completes} ended (message_complete or error)"
                )
            if self.session()["status"] != "idle":
                self.wait_status("idle")
        finally:
            self.client.close()
            self.ledger.finished(self.thread_id)

    def choose_request(self) -> tuple[str, Order] | None:
        processing = [o for o in self.orders.values() if o.status == "processing"]
        refundable = [o for o in self.orders.values() if o.status == "delivered" and not o.refund_status]
        options: list[tuple[str, list[Order]]] = []
        if processing:
            options += [("cancel_order", processing), ("update_shipping_address", processing)]
        if refundable:
            options += [("request_refund", refundable)] * 2
        if not options:
            return None
        action, candidates = self.rng.choice(options)
        return action, self.rng.choice(sorted(candidates, key=lambda o: o.order_id))

    def phrase(self, action: str, order: Order) -> str:
        if action == "cancel_order":
            return f"Please cancel order {order.order_id}"
        if action == "request_refund":
            return f"I want a refund for order {order.order_id}, it arrived broken"
        street = f"{100 + self.request} Oak Street, Springfield"
        return f"Please change the shipping address of order {order.order_id} to {street}"

    def step(self, left: int) -> int:
        """One gated request and its decision (two requests when it is repeated); how many requests it made."""
        picked = self.choose_request()
        if picked is None:
            self.ledger.counts["requests skipped (no order left)"] += 1
            return 1
        action, order = picked
        choices = [c for c in CHOICES if c != "repeat" or left > 1]
        choice = self.rng.choices(choices, weights=[CHOICES[c] for c in choices])[0]
        content = self.phrase(action, order)
        a = self.ask(content)
        if a is not None:
            if choice == "repeat":
                self.repeat(a, content)
            else:
                self.decide(a, choice)
        self.refresh(order.order_id)
        return 2 if choice == "repeat" and a is not None else 1

    def ask(self, content: str) -> Approval | None:
        """Send a gated request; at its interrupt, check the thread awaits exactly it (a quiet point)."""
        self.request = self.soak.next_request()
        before = self.completes
        self.current = None
        self.message(content)
        self.until(
            lambda: self.current is not None or self.completes > before, TURN_SECONDS, f"interrupt for {content!r}"
        )
        a = self.at_interrupt(before)
        if a is None:  # the order allowed it (its state is tracked from the table): the model should have asked
            answer = "".join(e.get("content", "") for e in self.events[-12:] if e.get("type") == "token")
            self.ledger.notes.append(f"{self.thread_id}: {content!r} was answered without an approval: {answer!r}")
        return a

    def at_interrupt(self, before: int) -> Approval | None:
        a = self.current
        if a is None:  # answered without asking (a repeat of a request that ran, or a model that did not ask)
            self.ledger.counts["requests answered without an approval"] += 1
            self.ledger.checkpoint(self)
            self.wait_status("idle")
            return None
        assert a.turn_end == before + 1
        self.ledger.checkpoint(self, awaiting=a)  # 3: it is in the pending list, and nothing ran
        return a

    def refresh(self, order_id: str) -> None:
        self.orders[order_id] = self.ledger.order(order_id)

    def closed(self, a: Approval, *, rest: bool = True) -> None:
        """Its turn ended: the decision is settled. At rest (no turn queued behind it), check."""
        a.closed = True
        if rest:
            self.ledger.checkpoint(self)
            self.wait_status("idle")  # 4: the turn ended and the thread is not left running

    # ------------------------------------------------------------ deciding
    def decide(self, a: Approval, choice: str, *, rest: bool = True) -> None:
        a.choice = choice
        self.ledger.counts[f"choice {choice}"] += 1
        self.decisions += 1
        comment = f"soak comment {self.thread_id}/{self.decisions}"
        if choice == "customer_approve":
            self.customer_decides(a, True)
        elif choice == "customer_reject":
            self.customer_decides(a, False, comment)
        elif choice == "operator_approve":
            self.operator_decides(a, {"approved": True})
        elif choice == "operator_edit":
            self.operator_edits(a)
        elif choice == "operator_reject":
            self.operator_decides(a, {"approved": False, "comment": comment})
        elif choice == "withdraw":
            self.withdraw(a)
        elif choice == "timeout":
            self.time_out(a)
        elif choice == "double":
            self.double(a, self.rng.choice(DOUBLES), comment)
        else:  # pragma: no cover
            raise AssertionError(choice)
        self.closed(a, rest=rest)

    def decision_frame(self, a: Approval, approved: bool, comment: str | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "interrupt_response", "thread_id": self.thread_id}
        frame.update(interrupt_id=a.interrupt_id, approved=approved)
        if comment:
            frame["comment"] = comment
        return frame

    def customer_decides(self, a: Approval, approved: bool, comment: str | None = None, copies: int = 1) -> None:
        frame = self.decision_frame(a, approved, comment)
        if a.approver == "operator":
            # an operator-only refund: the customer is refused and it stays pending; an operator decides instead
            errors = len(self.errors)
            self.send(frame)
            self.until(lambda: len(self.errors) > errors, ANSWER_SECONDS, "answer to a customer's decision")
            answer = self.errors[errors]
            a.refused.append(Decider("customer", self.customer, "approved" if approved else "rejected", _code(answer)))
            if answer.get("code") == "approval_expired":  # it timed out first: the ledger must say so (checked)
                self.wait_turn(a, APPROVAL_TIMEOUT_SECONDS + TURN_SECONDS)
                return
            if answer.get("code") != "forbidden":
                self.ledger.violate(1, f"a customer deciding an operator-only approval got {answer}: {a.describe()}")
            self.ledger.checkpoint(self, awaiting=a)
            body: dict[str, Any] = {"approved": approved, **({"comment": comment} if comment else {})}
            self.operator_decides(a, body)
            return
        errors = len(self.errors)
        for _ in range(copies):
            self.send(frame)
        self.settle_frames(a, frame, copies, errors, "approved" if approved else "rejected")

    def settle_frames(self, a: Approval, frame: dict[str, Any], sent: int, errors: int, outcome: str) -> None:
        """Wait for the turn and for the answers to `sent` identical customer frames: each is refused with an error,
        except the one accepted (if the customer's decision is the one the workflow resumed with)."""
        retried = 0
        deadline = time.monotonic() + TURN_SECONDS
        answers = self.errors[errors:]
        while True:
            answers = self.errors[errors:]
            internal = sum(1 for e in answers if e.get("code") == "internal_error")
            if internal > retried and not a.resolved:  # retryable: nothing was decided; send it again
                retried += 1
                sent += 1
                self.ledger.counts["decision frames retried after internal_error"] += 1
                self.ledger.notes.append(f"internal_error for a decision frame on {a.describe()}: {answers}")
                self.send(frame)
                continue
            if self.turn_over(a):
                won = bool(a.resolved) and a.resolved[0].get("decided_by") == "customer"
                won = won and a.resolved[0].get("outcome") == outcome
                if len(answers) >= sent - (1 if won else 0):
                    break
                deadline = min(deadline, time.monotonic() + ANSWER_SECONDS)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if not self.turn_over(a):
                    raise StepFailed(f"{self.thread_id}: the turn of {a.interrupt_id} never ended; {self.tail()}")
                break  # a frame neither refused nor the one that ran: accepted below, and the ledger says otherwise
            self.recv(remaining)
        self.drain(0.1)  # an extra refusal would say that the accepted one was refused too
        answers = self.errors[errors:]
        for answer in answers:
            a.refused.append(Decider("customer", self.customer, outcome, _code(answer)))
        for _ in range(sent - len(answers)):
            a.accepted.append(Decider("customer", self.customer, outcome, "no error"))
        if len(answers) > sent:
            self.ledger.violate(1, f"{sent} decision frames got {len(answers)} refusals: {a.describe()}: {answers}")

    def post(self, a: Approval, sub: str, body: dict[str, Any]) -> int:
        """An operator's decision, retried while it fails retryably (5xx: nothing was decided)."""
        token = self.soak.client.token(sub, "operator")
        path = f"/api/v1/approvals/{a.interrupt_id}"
        for _attempt in range(8):
            status, reply = self.soak.client.http("POST", path, token, body)
            if status < 500:
                break
            self.ledger.counts["operator decisions retried after 5xx"] += 1
            self.ledger.notes.append(f"{sub} got {status} {reply} deciding {a.describe()}")
            time.sleep(0.05)
        wanted = "rejected" if not body["approved"] else "edited" if body.get("args") else "approved"
        with self.ledger.lock:
            if status == 200:
                a.accepted.append(Decider("operator", sub, reply.get("outcome", "?"), "200"))
                if reply.get("outcome") != wanted:
                    self.ledger.violate(1, f"{sub} asked for {wanted} and was answered {reply}: {a.describe()}")
            else:
                a.refused.append(Decider("operator", sub, wanted, str(status)))
        if status not in (200, 409, 410, 422):
            self.ledger.violate(1, f"{sub} deciding {a.describe()} got {status}: {reply}")
        return status

    def operator(self) -> str:
        self.decisions += 1
        return f"op-{self.plan.index:03d}-{self.decisions}"

    def operator_decides(self, a: Approval, body: dict[str, Any]) -> None:
        self.post(a, self.operator(), body)
        self.wait_turn(a)

    def operator_edits(self, a: Approval) -> None:
        total = self.orders[str(a.args["order_id"])].total
        if a.action == "request_refund":
            invalid: dict[str, Any] = {"amount": round(total + self.rng.choice((0.01, 5, 100)), 2)}
            cents = self.rng.randint(1, max(1, round(total * 100) - 1))
            valid: dict[str, Any] | None = {"amount": cents / 100}
        elif a.action == "update_shipping_address":
            invalid = {"address": " ", "amount": 1} if self.rng.random() < 0.5 else {"address": "x" * 301}
            valid = {"address": f"{self.request} Edited Avenue, Shelbyville"}
        else:
            invalid, valid = {"amount": 1}, None  # nothing of a cancellation is editable
        if valid is None or self.rng.random() < 0.4:
            # an invalid edit is a 422 and the approval stays pending (checked at rest)
            status = self.post(a, self.operator(), {"approved": True, "args": invalid})
            if status == 422:
                self.ledger.counts["invalid edits refused (422)"] += 1
                if time.time() < a.expires_at - NEAR_DEADLINE:
                    self.wait_status("awaiting_approval", a)
                self.ledger.checkpoint(self, awaiting=a)
            elif status != 410:
                self.ledger.violate(1, f"an invalid edit {invalid} was answered {status}: {a.describe()}")
        body = {"approved": True, **({"args": valid} if valid else {})}
        self.operator_decides(a, body)

    def withdraw(self, a: Approval) -> None:
        a.withdraw_tried = True
        cancel = {"type": "cancel", "thread_id": self.thread_id}
        errors = len(self.errors)
        self.send(cancel)
        retried = 0
        deadline = time.monotonic() + TURN_SECONDS
        while not self.turn_over(a):
            internal = sum(1 for e in self.errors[errors:] if e.get("code") == "internal_error")
            if internal > retried and not a.resolved:
                retried += 1
                self.ledger.counts["withdrawals retried after internal_error"] += 1
                self.ledger.notes.append(f"internal_error for a withdrawal of {a.describe()}")
                self.send(cancel)
            if time.monotonic() > deadline:
                raise StepFailed(f"{self.thread_id}: the withdrawn turn of {a.interrupt_id} never ended; {self.tail()}")
            self.recv(deadline - time.monotonic())

    def time_out(self, a: Approval) -> None:
        self.wait_turn(a, APPROVAL_TIMEOUT_SECONDS + TURN_SECONDS)
        if self.rng.random() < 0.5:
            return
        # a late decider hears "expired" (or "already decided"), and changes nothing
        if self.rng.random() < 0.5 or a.approver == "operator":
            self.post(a, self.operator(), {"approved": True})
            return
        errors = len(self.errors)
        self.send(self.decision_frame(a, True))
        self.until(lambda: len(self.errors) > errors, ANSWER_SECONDS, "answer to a late decision")
        answer = self.errors[errors]
        a.refused.append(Decider("customer", self.customer, "approved", _code(answer)))
        if answer.get("code") != "approval_expired":
            self.ledger.violate(1, f"a late customer decision got {answer}: {a.describe()}")

    def double(self, a: Approval, variant: str, comment: str) -> None:
        a.choice = f"double:{variant}"
        self.ledger.counts[f"double {variant}"] += 1
        if variant == "customer_vs_operator" and a.approver == "operator":
            variant = "operators_race"
        if variant == "same_frame":
            if a.approver == "customer":
                approved = self.rng.random() < 0.5
                self.customer_decides(a, approved, None if approved else comment, copies=2)
            else:  # the same operator posts the same decision twice at once
                sub = self.operator()
                self.race(a, [(sub, {"approved": True}), (sub, {"approved": True})])
                self.wait_turn(a)
        elif variant == "operators_race":
            approve, reject = {"approved": True}, {"approved": False, "comment": comment}
            self.race(a, [(self.operator(), approve), (self.operator(), reject)])
            self.wait_turn(a)
        elif variant == "customer_vs_operator":
            frame = self.decision_frame(a, True)
            errors = len(self.errors)
            self.race(a, [(self.operator(), {"approved": False, "comment": comment})], frame)
            self.settle_frames(a, frame, 1, errors, "approved")
        elif variant == "withdraw_vs_operator":
            a.withdraw_tried = True
            self.race(a, [(self.operator(), {"approved": True})], {"type": "cancel", "thread_id": self.thread_id})
            self.wait_turn(a)
        else:  # pragma: no cover
            raise AssertionError(variant)

    def race(self, a: Approval, posts: list[tuple[str, dict[str, Any]]], frame: dict[str, Any] | None = None) -> None:
        """The operators' posts (and the customer's frame) at the same moment."""
        barrier = threading.Barrier(len(posts) + 1)
        failures: list[BaseException] = []

        def post(sub: str, body: dict[str, Any]) -> None:
            try:
                barrier.wait(10)
                self.post(a, sub, body)
            except BaseException as exc:
                failures.append(exc)

        racers = [threading.Thread(target=post, args=p, name=f"soak-racer-{i}") for i, p in enumerate(posts)]
        for racer in racers:
            racer.start()
        barrier.wait(10)
        if frame is not None:
            self.send(frame)
        for racer in racers:
            racer.join(60)
        if failures:
            raise StepFailed(f"a racing decider failed: {failures[0]!r}")

    def repeat(self, a: Approval, content: str) -> None:
        """The same request again in the next message: queued behind the approval, it makes the next turn."""
        a.choice = "repeat:first"
        self.ledger.counts["choice repeat"] += 1
        statuses = len(self.events)
        self.message(content)  # queued behind the approval (answered `status`), or a turn of its own if it timed out
        # the first is decided (not by Stop, which would also drop the queued message); its turn ends, the next starts
        self.decide(a, self.rng.choice(SIMPLE), rest=False)  # the next turn is running: no rest until it asks
        self.request = self.soak.next_request()
        self.until(
            lambda: (self.current is not None and self.current is not a) or self.completes > a.turn_end,
            TURN_SECONDS,
            "the repeated request's turn",
        )
        if self.current is a:
            self.current = None
        queued = [e for e in self.events[statuses:] if e.get("type") == "status"]
        if queued and queued[0].get("queued") != 1:
            self.ledger.violate(4, f"the repeated request was answered {queued[0]} (expected queued: 1); {self.tail()}")
        second = self.at_interrupt(a.turn_end)
        if second is None:
            return
        second.choice = "repeat:second"
        if second.interrupt_id == a.interrupt_id:
            self.ledger.violate(1, f"the repeated request reused the first one's id: {a.describe()}")
        self.decide(second, self.rng.choice([c for c in CHOICES if c != "repeat"]))


def soak_order(order_id: int, customer: str, sku: str, name: str, price: float, *, status: OrderStatus) -> Order:
    """One of a soak customer's orders: processing (cancel, change the address) or delivered (refund)."""
    delivered = status == "delivered"
    return Order(
        order_id=str(order_id),
        customer_id=customer,
        status=status,
        items=[OrderItem(sku=sku, name=name, unit_price=price)],
        total=price,
        placed_at="2026-11-01" if delivered else "2026-11-24",
        shipping_address="742 Evergreen Terrace, Springfield, OR 97403, USA",
        carrier="UPS" if delivered else None,
        tracking_number=f"1Z{order_id:016d}" if delivered else None,
        delivered_at="2026-11-10" if delivered else None,
    )


def _code(event: dict[str, Any]) -> str:
    return f"error:{event.get('code')}:{event.get('message', '')[:60]}"


def _short(event: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "sent",
        "type",
        "interrupt_id",
        "outcome",
        "decided_by",
        "code",
        "message",
        "status",
        "queued",
        "cancelled",
        "_at",
    )
    return {k: event[k] for k in keep if k in event}


# ---------------------------------------------------------------- the soak


class Soak:
    """The stack, the ledger, the plans and the workers."""

    def __init__(self, inproc: InProcessStack) -> None:
        self.inproc = inproc
        self.client = Stack(inproc.port, None, Path(os.devnull), inproc.secret)
        self.ledger = Ledger(inproc, self.client)
        self.requests = 0
        self._lock = threading.Lock()

    def next_request(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests

    def plans(self) -> list[Plan]:
        """≥ 24 customers, each with its own processing and delivered orders (ids unique, from 3000)."""
        rng = random.Random(SEED)
        threads = max(MIN_THREADS, math.ceil(REQUESTS / REQUESTS_PER_THREAD))
        per_thread, extra = divmod(REQUESTS, threads)
        store = OrderStore(self.ledger.orders_table, dynamodb=self.ledger.dynamodb)
        next_id = 3000
        plans = []
        for index in range(threads):
            customer = f"c-soak-{index:03d}"
            processing: list[Order] = []
            delivered: list[Order] = []
            for n in range(per_thread // 2 + 3):
                price = round(rng.uniform(5, 150), 2)
                processing.append(soak_order(next_id, customer, f"SKU-{n}", "Soak widget", price, status="processing"))
                next_id += 1
            for n in range(per_thread // 2 + 3):
                # some the customer may approve (≤ $50), some only an operator (> $50)
                price = round(rng.uniform(5, 50), 2) if n % 2 == 0 else round(rng.uniform(50.01, 300), 2)
                delivered.append(soak_order(next_id, customer, f"SKU-D{n}", "Soak gadget", price, status="delivered"))
                next_id += 1
            assert next_id <= 10000, "order ids must stay 4-digit: fewer requests per run"
            for order in (*processing, *delivered):
                store.put(order)
            self.ledger.add_thread(
                f"soak-{SEED}-{index:03d}", customer, [o.order_id for o in (*processing, *delivered)]
            )
            plans.append(Plan(index, per_thread + (index < extra), rng.getrandbits(64), processing, delivered))
        return plans

    def run(self) -> None:
        plans = self.plans()
        queue = list(reversed(plans))
        queue_lock = threading.Lock()

        def work() -> None:
            while not self.ledger.failed.is_set():
                with queue_lock:
                    if not queue:
                        return
                    plan = queue.pop()
                conversation = None
                try:
                    conversation = Conversation(self, plan)
                    conversation.run()
                except StepFailed as exc:
                    self.ledger.violate(4, str(exc))
                except BaseException:
                    tail = conversation.tail() if conversation else ""
                    self.ledger.violate("worker", f"{plan.thread_id}: {traceback.format_exc()}\n{tail}")
                finally:
                    self.ledger.finished(plan.thread_id)

        self.ledger.start()
        try:
            workers = [threading.Thread(target=work, name=f"soak-worker-{n}") for n in range(WORKERS)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if not self.ledger.failed.is_set():
                # every thread at rest: the whole ledger once more, strictly
                self.ledger.check(dict.fromkeys(self.ledger.rest), full=True)
                self.final_check()
        finally:
            self.ledger.stop()

    def final_check(self) -> None:
        ledger = self.ledger
        audits = ledger.audits()
        pending = ledger.pending_list()
        undecided = {i for i, a in ledger.approvals.items() if audits.get(i, {}).get("state") != "final"}
        if set(pending) != undecided:
            ledger.violate(
                3,
                f"at the end the pending list {sorted(pending)} differs from the undecided ids {sorted(undecided)}",
            )
        for interrupt_id in sorted(set(audits) - set(ledger.approvals)):
            ledger.violate(
                1, f"an audit record for an approval no client was asked: {audit_summary(audits[interrupt_id])}"
            )
        for approval in ledger.approvals.values():
            if not approval.closed:
                ledger.violate(4, f"never settled: {approval.describe()}: {approval.history()}")

    def tally(self) -> Counter[str]:
        """The outcomes and deciders the ledger holds for the ids the clients saw."""
        audits = self.ledger.audits()
        tally: Counter[str] = Counter()
        for interrupt_id in self.ledger.approvals:
            record = audits.get(interrupt_id, {})
            tally[f"{record.get('outcome')} by {record.get('decided_by')}"] += 1
        return tally


@pytest.fixture(scope="module")
def soak_stack() -> Iterator[InProcessStack]:
    stack = InProcessStack(
        OFFLINE_TOKEN_DELAY_MS="0",
        RATE_LIMIT_TURNS_PER_MINUTE="100000",
        RATE_LIMIT_FRAMES_PER_SECOND="100000",
        APPROVAL_TIMEOUT_SECONDS=str(APPROVAL_TIMEOUT_SECONDS),
        LOCAL_FAULTS=FAULTS,
        LOG_LEVEL="ERROR",
    )
    stack.start()
    assert stack.stack.gate is not None
    stack.stack.gate.faults.rng = random.Random(SEED)  # the faults follow the seed too (the races do not)
    yield stack
    stack.stop()


def test_the_approval_ledger_holds_its_invariants_under_races_repeats_timeouts_and_faults(soak_stack):
    started = time.monotonic()
    soak = Soak(soak_stack)
    soak.run()
    ledger = soak.ledger
    elapsed = time.monotonic() - started
    faults = soak_stack.stack.gate.stats()["faults"] if soak_stack.stack.gate else {}
    summary = (
        f"ledger soak ({replay_hint()}): {soak.requests} gated requests on {len(ledger.rest)} threads"
        f" ({WORKERS} at once), {len(ledger.approvals)} interrupt ids, {ledger.checks} checks in {elapsed:.0f} s;"
        f" outcomes {dict(sorted(soak.tally().items()))}; {dict(sorted(ledger.counts.items()))};"
        f" faults injected {faults}" + (f"; notes ({len(ledger.notes)}): {ledger.notes[:5]}" if ledger.notes else "")
    )
    print(summary)
    if ledger.violations:
        shown = "\n\n".join(ledger.violations[:8])
        more = f"\n\n(+{len(ledger.violations) - 8} more)" if len(ledger.violations) > 8 else ""
        pytest.fail(
            f"{len(ledger.violations)} ledger invariant violation(s), {replay_hint()}\n\n{shown}{more}\n\n{summary}"
        )
    assert soak.requests >= REQUESTS, summary
    assert len(ledger.rest) >= 20 and len(ledger.approvals) >= REQUESTS * 3 // 4, summary
    assert sum(faults.values()) > 0, summary
