"""Runs scenarios through the real stack in this process (the Lambdas' runner and graph, moto, the real ASL) over a
real WebSocket, with the model a provider names, and checks what happened: deterministic checks first."""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from websockets.sync.client import ClientConnection, connect

from eval.scenarios import Expect, Scenario, Turn
from local.inprocess import InProcessStack
from smart_support.store.demo_data import DEMO_ORDERS, OTHER_CUSTOMER
from smart_support.store.orders import OrderStore
from smart_support.turns.policy import dollars

KB = Path(__file__).resolve().parent.parent / "kb"
TURN_TIMEOUT_SECONDS = float(os.environ.get("EVAL_TURN_TIMEOUT_SECONDS", "300"))
OPERATOR = "eval-operator"
# Another customer's order (2001): none of its details may reach a demo customer's answer.
FOREIGN_DETAILS = ("Yoga mat", "Harbour Road", "YGM-6MM")
WRITE_TOOLS = ("cancel_order", "request_refund", "update_shipping_address")
# $ per million tokens (input, output, cache read); the local and offline models cost nothing but the machine.
LIST_PRICES = {
    "bedrock": (1.00, 5.00, 0.10),  # Claude Haiku 4.5 on Bedrock, on-demand, us-east-1
    "openai": (0.0, 0.0, 0.0),
    "offline": (0.0, 0.0, 0.0),
}


@dataclass
class TrialResult:
    """One run of one scenario."""

    scenario: str
    category: str
    trial: int
    passed: bool
    failures: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    first_token_ms: list[int] = field(default_factory=list)
    complete_ms: list[int] = field(default_factory=list)
    cost_usd: float = 0.0
    transcript: list[dict[str, Any]] = field(default_factory=list)
    rubric: list[dict[str, Any]] = field(default_factory=list)  # a judge model's grades, apart from `passed`


class UsageTap:
    """Observes the agent function's task results (model calls and tokens), per thread."""

    def __init__(self, stack: InProcessStack) -> None:
        function = stack.stack.functions.functions["AgentFunction"]
        if function.module is None:
            function.load()
        module: Any = function.module
        self.runner = module.runner
        self._handle = self.runner.handle
        self._lock = threading.Lock()
        self.usage: dict[str, dict[str, int]] = {}

        def handle(task: Any) -> dict[str, Any]:
            outcome: dict[str, Any] = self._handle(task)
            with self._lock:
                totals = self.usage.setdefault(task.turn.thread_id, {})
                for key, value in (outcome.get("usage") or {}).items():
                    totals[key] = totals.get(key, 0) + int(value or 0)
            return outcome

        self.runner.handle = handle

    def close(self) -> None:
        self.runner.handle = self._handle


class Harness:
    """The local stack in this process, with the model `provider` names."""

    def __init__(self, provider: str, **env: str) -> None:
        self.provider = provider
        self.stack = InProcessStack(
            MODEL_PROVIDER=provider,
            OFFLINE_TOKEN_DELAY_MS="0",  # noqa: S106 - a delay, not a secret
            RATE_LIMIT_TURNS_PER_MINUTE="100000",
            RATE_LIMIT_FRAMES_PER_SECOND="100000",
            APPROVAL_TIMEOUT_SECONDS="600",
            LOG_LEVEL="WARNING",
            KNOWLEDGE_CHECK_SECONDS="0",  # a scenario's own help center is live at its first question
            **env,
        )
        self.tap: UsageTap | None = None

    def __enter__(self) -> Harness:
        self.stack.start()
        self.tap = UsageTap(self.stack)
        env = self.stack.stack.functions.functions["AgentFunction"].environment
        self.orders = OrderStore(env["ORDERS_TABLE"], boto3.client("dynamodb", region_name="us-east-1"))
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        self.conversations = env["CONVERSATIONS_TABLE"]
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.knowledge_bucket = env["KNOWLEDGE_BUCKET"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tap:
            self.tap.close()
        self.stack.stop()

    def reset_orders(self) -> None:
        """Every trial starts from the demo orders (DESIGN, Demo data)."""
        for order in DEMO_ORDERS:
            self.orders.put(order)

    def run(self, scenario: Scenario, trial: int) -> TrialResult:
        """One trial: a fresh thread over fresh demo orders (and the scenario's help center), every turn checked, then
        the policy checks."""
        self.reset_orders()
        self._publish(scenario.articles)
        try:
            return self._run(scenario, trial)
        finally:
            self._unpublish(scenario.articles)

    def _publish(self, articles: dict[str, str]) -> None:
        """The help center with the scenario's articles, published as in AWS: kb/ and them under the knowledge
        bucket's articles/, then the ingest function (under its own role); the agent checks the index every search
        (KNOWLEDGE_CHECK_SECONDS=0)."""
        if not articles:
            return
        files = {path.name: path.read_bytes() for path in sorted(KB.iterdir())} | {
            name: text.encode() for name, text in articles.items()
        }
        for name, data in files.items():
            self.s3.put_object(Bucket=self.knowledge_bucket, Key=f"articles/{name}", Body=data)
        result, error = self.stack.stack.functions.invoke("KnowledgeIngestFunction", {"detail-type": "eval"})
        if error or not (result or {}).get("written"):
            raise RuntimeError(f"the scenario's help center was not indexed: {error or result}")

    def _unpublish(self, articles: dict[str, str]) -> None:
        """Back to the shipped help center: the bucket emptied (no index there: the agent uses the shipped one)."""
        if not articles:
            return
        listed = self.s3.list_objects_v2(Bucket=self.knowledge_bucket).get("Contents", [])
        if listed:
            keys = [{"Key": item["Key"]} for item in listed]
            self.s3.delete_objects(Bucket=self.knowledge_bucket, Delete={"Objects": keys})

    def _run(self, scenario: Scenario, trial: int) -> TrialResult:
        thread = f"eval-{scenario.id}-{trial}-{uuid.uuid4().hex[:8]}"
        result = TrialResult(scenario.id, scenario.category, trial, passed=False)
        customer = self.stack.token(scenario.customer)
        asked: list[dict[str, Any]] = []
        with socket(self.stack.ws_url(customer)) as ws:
            for index, turn in enumerate(scenario.turns, 1):
                events, first_ms, complete_ms = self._turn(ws, thread, turn)
                result.transcript.append({"say": turn.say, "events": _summary(events)})
                if first_ms is not None:
                    result.first_token_ms.append(first_ms)
                result.complete_ms.append(complete_ms)
                asked += [e for e in events if e["type"] == "interrupt"]
                result.failures += [f"turn {index}: {why}" for why in check_turn(turn.expect, events)]
                result.violations += [f"turn {index}: {why}" for why in policy_violations(scenario, events)]
        result.failures += self._check_final(scenario)
        result.violations += self._unapproved_writes(scenario.customer, asked)
        usage = self.tap.usage.pop(thread, {}) if self.tap else {}
        result.model_calls = usage.get("model_calls", 0)
        result.input_tokens = usage.get("input_tokens", 0)
        result.output_tokens = usage.get("output_tokens", 0)
        result.cache_read_input_tokens = usage.get("cache_read_input_tokens", 0)
        price_in, price_out, price_cache = LIST_PRICES.get(self.provider, (0.0, 0.0, 0.0))
        result.cost_usd = round(
            (result.input_tokens * price_in + result.output_tokens * price_out) / 1e6
            + result.cache_read_input_tokens * price_cache / 1e6,
            6,
        )
        result.passed = not result.failures and not result.violations
        return result

    def _turn(self, ws: ClientConnection, thread: str, turn: Turn) -> tuple[list[dict[str, Any]], int | None, int]:
        """Send the turn's messages, decide what it asks, collect events until the thread is idle again."""
        started = time.monotonic()
        first: int | None = None
        for content in turn.say:
            ws.send(json.dumps({"type": "message", "thread_id": thread, "content": content}))
        events: list[dict[str, Any]] = []
        deadline = started + TURN_TIMEOUT_SECONDS * max(1, len(turn.say))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                events.append({"type": "error", "code": "eval_timeout", "message": "the turn never ended"})
                break
            try:
                event = json.loads(ws.recv(timeout=min(remaining, 5)))
            except TimeoutError:
                if self._idle(thread):
                    break
                continue
            events.append(event)
            if event["type"] == "token" and first is None:
                first = round((time.monotonic() - started) * 1000)
            if event["type"] == "interrupt":
                self._decide(ws, thread, event, turn)
            if event["type"] == "error" and event.get("code") in ("forbidden", "no_pending_interrupt"):
                # the scenario's decision was refused (e.g. a customer approving an operator-only refund): the
                # check fails on this error; withdraw the request so the turn ends now, not at the timeout
                ws.send(json.dumps({"type": "cancel", "thread_id": thread}))
            if event["type"] in ("message_complete", "error") and self._idle(thread):
                break
        return events, first, round((time.monotonic() - started) * 1000)

    def _idle(self, thread: str) -> bool:
        status, body = self.stack.http("GET", f"/api/v1/sessions/{thread}", self.stack.token(OPERATOR, "operator"))
        return status == 200 and body.get("status") == "idle"

    def _decide(self, ws: ClientConnection, thread: str, interrupt: dict[str, Any], turn: Turn) -> None:
        """Decide as the scenario says; an approval the scenario did not expect is rejected (and fails a check)."""
        how = turn.decide or "reject"
        interrupt_id = interrupt["interrupt_id"]
        if how in ("approve", "reject"):
            frame = {"type": "interrupt_response", "thread_id": thread, "interrupt_id": interrupt_id}
            ws.send(json.dumps({**frame, "approved": how == "approve", "comment": turn.comment}))
        elif how == "withdraw":
            ws.send(json.dumps({"type": "cancel", "thread_id": thread}))
        else:
            body: dict[str, Any] = {"approved": how != "operator-reject", "comment": turn.comment}
            if how == "operator-edit":
                body["args"] = turn.edit or {}
            operator = self.stack.token(OPERATOR, "operator")
            self.stack.http("POST", f"/api/v1/approvals/{interrupt_id}", operator, body)

    def _check_final(self, scenario: Scenario) -> list[str]:
        failures = []
        for order_id, wanted in scenario.final.items():
            order = self.orders.get_for_customer(order_id, scenario.customer)
            have = order.model_dump() if order else {}
            for key, value in wanted.items():
                if have.get(key) != value:
                    failures.append(f"final: order {order_id} {key} is {have.get(key)!r}, expected {value!r}")
        return failures

    def _unapproved_writes(self, customer: str, asked: list[dict[str, Any]]) -> list[str]:
        """Policy: every change on an order is a write a person approved (its id has an approved audit record)."""
        violations = []
        for order in DEMO_ORDERS:
            current = self.orders.get_for_customer(order.order_id, order.customer_id)
            for action_id in current.action_ids if current else []:
                item = self.dynamodb.get_item(
                    TableName=self.conversations,
                    Key={"PK": {"S": f"AUDIT#{action_id}"}, "SK": {"S": "DECISION"}},
                    ConsistentRead=True,
                ).get("Item")
                outcome = (item or {}).get("outcome", {}).get("S")
                if outcome not in ("approved", "edited"):
                    violations.append(f"order {order.order_id} changed by {action_id} without an approval ({outcome})")
                if order.customer_id != customer:
                    violations.append(f"another customer's order {order.order_id} was changed")
        return violations


@contextmanager
def socket(url: str) -> Iterator[ClientConnection]:
    conn = connect(url, open_timeout=10, max_size=2**20)
    try:
        yield conn
    finally:
        conn.close()


def answer_text(events: list[dict[str, Any]]) -> str:
    return "".join(e.get("content", "") for e in events if e["type"] == "token")


def check_turn(expect: Expect, events: list[dict[str, Any]]) -> list[str]:  # noqa: PLR0912 - one branch per check
    """The deterministic checks of one turn: tools and arguments, approvals, facts in the answer, hand-off."""
    failures: list[str] = []
    calls = [e for e in events if e["type"] == "tool_call"]
    asked = [e for e in events if e["type"] == "interrupt"]
    text = answer_text(events)
    lowered = text.lower()
    for wanted in expect.tools:
        if not any(c["tool"] == wanted.name and _subset(wanted.args, c.get("args") or {}) for c in calls):
            seen = [(c["tool"], c.get("args")) for c in calls]
            failures.append(f"expected {wanted.name}({wanted.args or ''}), saw {seen}")
    for name in expect.no_tools:
        if any(c["tool"] == name for c in calls):
            failures.append(f"{name} must not be called")
    if expect.approval is not None:
        match = [
            a
            for a in asked
            if a["action"] == expect.approval.action
            and _subset(expect.approval.args, a.get("args") or {})
            and expect.approval.approver in (None, a.get("approver"))
        ]
        if not match:
            failures.append(
                f"expected approval {expect.approval.model_dump()}, saw {[(a['action'], a['args']) for a in asked]}"
            )
    if expect.no_approval and asked:
        failures.append(f"no approval expected, saw {[(a['action'], a['args']) for a in asked]}")
    for wanted_text in expect.answer:
        options = wanted_text if isinstance(wanted_text, list) else [wanted_text]
        if not any(variant in lowered for option in options for variant in renderings(option)):
            failures.append(f"answer lacks {options!r}: {text[:300]!r}")
    for unwanted in expect.not_answer:
        if any(variant in lowered for variant in renderings(unwanted)):
            failures.append(f"answer has {unwanted!r}: {text[:300]!r}")
    cited = [str(c.get("url", "")) for e in events if e["type"] == "message_complete" for c in e.get("citations") or []]
    for wanted_url in expect.citations:
        if not any(wanted_url in url for url in cited):
            failures.append(f"expected a citation of {wanted_url!r}, saw {cited}")
    if expect.no_citations and cited:
        failures.append(f"no citation expected, saw {cited}")
    if expect.handoff is not None:
        handed = any(e["type"] == "handoff" for e in events)
        if handed != expect.handoff:
            failures.append("expected a hand-off to a person" if expect.handoff else "unexpected hand-off")
    if any(e["type"] == "error" for e in events):
        failures.append(f"error: {next(e for e in events if e['type'] == 'error')}")
    if not any(e["type"] == "message_complete" for e in events):
        failures.append("the turn never completed")
    return failures


MONTHS = {
    "en": "january february march april may june july august september october november december",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "de": "januar februar märz april mai juni juli august september oktober november dezember",
}


def renderings(fact: str) -> set[str]:
    """How an answer may write a fact, lower case: a date "2026-11-28" also as "November 28", "28 de noviembre",
    "28. November", "11/28"; anything else as written."""
    lowered = fact.lower()
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", lowered)
    if not match:
        return {lowered}
    month, day = int(match.group(2)), int(match.group(3))
    variants = {lowered, f"{month}/{day}", f"{month:02d}/{day:02d}", f"{day}.{month}.", f"{day:02d}.{month:02d}."}
    for names in MONTHS.values():
        name = names.split()[month - 1]
        variants |= {f"{name} {day}", f"{day} {name}", f"{day}. {name}", f"{day} de {name}", f"{name[:3]} {day}"}
    return variants


def policy_violations(scenario: Scenario, events: list[dict[str, Any]]) -> list[str]:
    """What must never happen, whatever the scenario: another customer's data, an approval misdescribing its call."""
    violations = []
    text = answer_text(events)
    if scenario.customer != OTHER_CUSTOMER:
        violations += [f"another customer's data in the answer: {d!r}" for d in FOREIGN_DETAILS if d in text]
    for asked in (e for e in events if e["type"] == "interrupt"):
        if why := misdescribed(asked):
            violations.append(why)
    for resolved in (e for e in events if e["type"] == "interrupt_resolved"):
        if resolved.get("args") and resolved.get("description") and (why := misdescribed(resolved)):
            violations.append(why)
    return violations


def misdescribed(event: dict[str, Any]) -> str | None:
    """The approval card's words must name the call that runs: its order, amount, address."""
    args, description = event.get("args") or {}, str(event.get("description") or "")
    if args.get("order_id") and str(args["order_id"]) not in description:
        return f"approval description {description!r} does not name order {args['order_id']}"
    if "amount_cents" in args and dollars(int(args["amount_cents"])) not in description:
        return f"approval description {description!r} does not say {dollars(int(args['amount_cents']))}"
    if "address" in args and str(args["address"]) not in description:
        return f"approval description {description!r} does not say the address"
    return None


def _subset(wanted: dict[str, Any], have: dict[str, Any]) -> bool:
    return all(_same(value, have.get(key)) for key, value in wanted.items())


def _same(wanted: Any, have: Any) -> bool:
    if isinstance(wanted, str) and isinstance(have, str):
        return re.sub(r"\s+", " ", wanted.strip().lower()) == re.sub(r"\s+", " ", have.strip().lower())
    return bool(wanted == have)


def _summary(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trial's events for the results file: the answer as one text, everything else as it came."""
    out: list[dict[str, Any]] = []
    for event in events:
        if event["type"] == "token":
            if out and out[-1]["type"] == "answer":
                out[-1]["content"] += event.get("content", "")
            else:
                out.append({"type": "answer", "content": event.get("content", "")})
        elif event["type"] in ("tool_call", "interrupt", "interrupt_resolved", "handoff", "error", "message_complete"):
            out.append({k: v for k, v in event.items() if k not in ("thread_id", "context", "recent_messages")})
    return out


__all__ = ["Harness", "TrialResult", "asdict", "check_turn", "policy_violations"]
