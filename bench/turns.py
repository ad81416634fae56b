"""Drive turns over a real WebSocket against the in-process stack and measure each one.

Turns run one after another, so everything the AWS request recorder saw between "message sent" and "execution
finished" belongs to that turn.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect

from bench.metrics import RecordedStack, Snapshot, wire_size
from local.inprocess import InProcessStack

PLAIN_PROMPTS = ("What is the status of order 1042?", "When will it arrive?", "How long does shipping take?")
LONG_ANSWER_PROMPT = "Hello!"  # the greeting: about 60 words, no tool call
# A long conversation cycles through these: turns 5, 50 and 200 all ask the last one (a tool turn).
LONG_PROMPTS = (
    "What is the status of order 1042?",
    "When will it arrive?",
    "How long does shipping take?",
    "Thanks!",
    "What is the status of order 1043?",
)
TERMINAL = ("message_complete", "error")


class AgentResults:
    """Every result the agent function returned to the state machine, in order (its model usage, for the bench)."""

    def __init__(self, stack: InProcessStack) -> None:
        self.results: list[dict[str, Any]] = []
        registry = stack.stack.functions
        original = registry.invoke

        def invoke(name_or_arn: str, event: Any) -> Any:
            result, error = original(name_or_arn, event)
            if registry.find(name_or_arn).logical_id == "AgentFunction" and isinstance(result, dict):
                self.results.append(result)
            return result, error

        # Replaced on this one registry (whatever holds it): the type checker refuses assigning to a method.
        setattr(registry, "invoke", invoke)  # noqa: B010


@dataclass
class TurnMeasure:
    """One measured turn."""

    kind: str
    thread_id: str
    turn: int
    first_token_s: float | None = None
    complete_s: float | None = None
    interrupt_s: float | None = None
    decision_first_token_s: float | None = None
    decision_complete_s: float | None = None
    frames_in: Counter[str] = field(default_factory=Counter)  # received by the client, by event type
    frames_out: int = 0  # sent by the client
    answer_words: int = 0
    token_frames: int = 0
    first_frame_words: int | None = None  # words in the first token frame: 1 means it was not held back
    states: list[str] = field(default_factory=list)
    usage: Snapshot | None = None
    model: list[dict[str, Any]] = field(default_factory=list)  # the model usage of each agent run of the turn

    @property
    def frames_received(self) -> int:
        """Frames the client received during the turn."""
        return sum(self.frames_in.values())


class TurnDriver:
    """Sends turns on one WebSocket and measures them."""

    def __init__(self, stack: RecordedStack, token: str | None = None, agent: AgentResults | None = None) -> None:
        self.stack = stack
        self.agent = agent
        self.conn: ClientConnection = connect(stack.ws_url(token), open_timeout=10, max_size=2**20)
        self.turns: dict[str, int] = Counter()

    def close(self) -> None:
        """Close the WebSocket."""
        self.conn.close()

    def _recv(self, measure: TurnMeasure, timeout: float = 30) -> dict[str, Any]:
        event = json.loads(self.conn.recv(timeout=timeout))
        measure.frames_in[event["type"]] += 1
        if event.get("type") == "error":
            raise RuntimeError(f"turn failed: {event}")
        return event

    def _send(self, measure: TurnMeasure, payload: dict[str, Any]) -> float:
        self.conn.send(json.dumps(payload))
        measure.frames_out += 1
        return time.perf_counter()

    def _stream(
        self,
        measure: TurnMeasure,
        started: float,
        until: Callable[[dict[str, Any]], bool],
        on_first_token: Callable[[float], None],
    ) -> dict[str, Any]:
        words: list[str] = []
        first = True
        while True:
            event = self._recv(measure)
            now = time.perf_counter()
            if event["type"] == "token":
                measure.token_frames += 1
                words.append(event["content"])
                if first:
                    on_first_token(now - started)
                    if measure.first_frame_words is None:
                        measure.first_frame_words = len(event["content"].split())
                    first = False
            if until(event):
                measure.answer_words += len("".join(words).split())
                return event

    def plain(self, thread_id: str, content: str, kind: str = "plain") -> TurnMeasure:
        """A turn without approval: message -> tokens -> message_complete."""
        self.turns[thread_id] += 1
        measure = TurnMeasure(kind, thread_id, self.turns[thread_id])
        with self._usage(measure):
            started = self._send(measure, {"type": "message", "thread_id": thread_id, "content": content})
            self._stream(
                measure, started, lambda e: e["type"] in TERMINAL, lambda s: setattr(measure, "first_token_s", s)
            )
            measure.complete_s = time.perf_counter() - started
        return measure

    def approval(self, thread_id: str, content: str, approved: bool = True) -> TurnMeasure:
        """A turn that asks for approval, which the customer gives in the chat."""
        self.turns[thread_id] += 1
        measure = TurnMeasure("approval", thread_id, self.turns[thread_id])
        with self._usage(measure):
            started = self._send(measure, {"type": "message", "thread_id": thread_id, "content": content})
            event = self._stream(
                measure,
                started,
                lambda e: e["type"] in ("interrupt", *TERMINAL),
                lambda s: setattr(measure, "first_token_s", s),
            )
            if event["type"] != "interrupt":
                raise RuntimeError(f"expected an interrupt, got {event}")
            measure.interrupt_s = time.perf_counter() - started
            decided = self._send(
                measure,
                {
                    "type": "interrupt_response",
                    "thread_id": thread_id,
                    "interrupt_id": event["interrupt_id"],
                    "approved": approved,
                },
            )
            self._stream(
                measure,
                decided,
                lambda e: e["type"] in TERMINAL,
                lambda s: setattr(measure, "decision_first_token_s", s),
            )
            measure.decision_complete_s = time.perf_counter() - decided
            measure.complete_s = time.perf_counter() - started
        return measure

    @contextmanager
    def _usage(self, measure: TurnMeasure) -> Iterator[None]:
        before = self.stack.recorder.snapshot()
        runs = len(self.agent.results) if self.agent else 0
        yield
        measure.states = wait_for_execution(self.stack, measure.thread_id, measure.turn)
        measure.usage = self.stack.recorder.snapshot().diff(before)
        if self.agent:
            measure.model = [result["usage"] for result in self.agent.results[runs:] if "usage" in result]


def wait_for_execution(stack: RecordedStack, thread_id: str, turn: int, timeout: float = 30) -> list[str]:
    """The states the turn's execution entered, once it finished."""
    import boto3

    from local.template import REGION
    from smart_support.store.sessions import thread_key
    from smart_support.turns.stepfunctions import execution_name

    deadline = time.monotonic() + timeout
    with stack.recorder.scope("harness:bench"):
        session = boto3.client("dynamodb", region_name=REGION).get_item(
            TableName="ConversationsTable", Key=thread_key(thread_id), ConsistentRead=True
        )["Item"]
        name = execution_name(thread_id, session.get("incarnation", {}).get("S", ""), turn)
        arn = stack.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        sfn = boto3.client("stepfunctions", region_name=REGION)
        while time.monotonic() < deadline:
            if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            time.sleep(0.01)
    raise TimeoutError(f"execution of {thread_id} turn {turn} did not finish")


# ---------------------------------------------------------------- the same graph, in-process


def run_inprocess(
    prompts: list[tuple[str, str]], token_delay_ms: int, stack: RecordedStack, first_token_ms: int = 0
) -> list[TurnMeasure]:
    """The agent graph alone: offline model, InMemorySaver, orders read from the stack's (moto) table."""
    import boto3
    from langchain_core.messages import BaseMessage, HumanMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver

    from local.template import REGION
    from smart_support.agent.graph import build_graph
    from smart_support.agent.models import OfflineChatModel
    from smart_support.agent.relay import TokenTap
    from smart_support.settings import AgentSettings, load_settings
    from smart_support.store.orders import OrderStore
    from smart_support.store.tickets import TicketStore

    class Answer:
        """Counts a turn's answer words and when the first came."""

        def __init__(self, measure: TurnMeasure, started: float) -> None:
            self.measure, self.started = measure, started

        def begin_call(self, node: str) -> None:
            pass

        def token(self, node: str, message: BaseMessage) -> None:
            if message.text:
                if self.measure.first_token_s is None:
                    self.measure.first_token_s = time.perf_counter() - self.started
                self.measure.answer_words += len(message.text.split())

        def restart_call(self, node: str) -> None:
            pass  # the benchmark injects no model faults

    settings = load_settings(AgentSettings)  # the agent function's, from the stack's environment
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    graph: Any = build_graph(  # stream() with several modes yields (mode, chunk) pairs its overloads do not spell
        model=OfflineChatModel(token_delay_ms=token_delay_ms, first_token_ms=first_token_ms),
        orders=OrderStore(settings.orders_table, dynamodb=dynamodb),
        tickets=TicketStore(settings.conversations_table, dynamodb=dynamodb),
        checkpointer=InMemorySaver(),
    )
    results = []
    turns: Counter[str] = Counter()
    recorder = stack.recorder
    for thread_id, content in prompts:
        turns[thread_id] += 1
        measure = TurnMeasure("inprocess", thread_id, turns[thread_id])
        before = recorder.snapshot()
        with recorder.scope("inprocess"):
            started = time.perf_counter()
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "recursion_limit": 40}
            graph_input: dict[str, Any] = {
                "messages": [HumanMessage(content)],
                "customer_id": "demo-customer",
                "thread_id": thread_id,
            }
            tap = TokenTap(Answer(measure, started), lambda: False)  # as the agent streams (agent/runner.py)
            config["callbacks"] = [tap]
            for _ in graph.stream(graph_input, config, stream_mode="updates", durability="exit"):
                pass
            measure.complete_s = time.perf_counter() - started
        measure.usage = recorder.snapshot().diff(before)
        results.append(measure)
    return results


# ---------------------------------------------------------------- statistics


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of the non-empty values."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    rank = max(1, math.ceil(p / 100 * len(data)))
    return data[rank - 1]


def mean(values: list[float]) -> float:
    """Arithmetic mean (0 for no values)."""
    return sum(values) / len(values) if values else 0.0


def checkpoint_bytes(stack: InProcessStack, thread_id: str) -> int:
    """The size of the largest checkpoint-table item of a thread (DynamoDB's item size rules), read from moto."""
    import boto3

    from local.template import REGION
    from smart_support.settings import AgentSettings, load_settings

    recorder = stack.recorder if isinstance(stack, RecordedStack) else None
    with recorder.scope("harness:bench") if recorder else nullcontext():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        pages = dynamodb.get_paginator("scan").paginate(TableName=load_settings(AgentSettings).checkpoints_table)
        sizes = [
            wire_size(item)
            for page in pages
            for item in page["Items"]
            if f"_{thread_id}#" in item["PK"]["S"] or item["PK"]["S"] == f"CHECKPOINT_{thread_id}"
        ]
    return max(sizes, default=0)


__all__ = [
    "LONG_ANSWER_PROMPT",
    "LONG_PROMPTS",
    "PLAIN_PROMPTS",
    "AgentResults",
    "TurnDriver",
    "TurnMeasure",
    "checkpoint_bytes",
    "mean",
    "percentile",
    "run_inprocess",
    "wait_for_execution",
]
