"""Helpers for the agent tests: build the graph on moto and run a turn the way the runner streams it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from smart_support.agent.checkpoints import LatestCheckpointSaver
from smart_support.agent.graph import build_graph
from smart_support.agent.models import OfflineChatModel, tool_results_of_turn
from smart_support.agent.nodes import AGENT_NODES
from smart_support.agent.relay import TokenTap
from smart_support.store.orders import OrderStore
from smart_support.store.tickets import TicketStore

TWO_WRITES = [
    {"name": "update_shipping_address", "args": {"order_id": "1043", "address": "1 Main St, Springfield"}},
    {"name": "request_refund", "args": {"order_id": "1045", "reason": "wrong size"}},
]


class TwoWritesModel(OfflineChatModel):
    """The offline model, except that "both" makes it ask for an address change and a $129 refund at once."""

    def reply(self, messages: Sequence[BaseMessage], tools: Sequence[str]) -> AIMessage:
        conversation = [m for m in messages if not isinstance(m, SystemMessage)]
        if not tool_results_of_turn(conversation) and "both" in conversation[-1].text:
            calls = [
                {**call, "id": f"call_{i}_{len(conversation)}", "type": "tool_call"}
                for i, call in enumerate(TWO_WRITES)
            ]
            return AIMessage(content="", tool_calls=calls)
        return super().reply(messages, tools)


DEMO = "demo-customer"
OTHER = "c-2001"


class RecordingSender:
    """Every event the client would have received."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, connection_id: str | None, payload: Mapping[str, object]) -> bool:
        self.events.append(dict(payload))
        return True

    def text(self, since: int = 0) -> str:
        return "".join(e["content"] for e in self.events[since:] if e["type"] == "token")

    def types(self, since: int = 0) -> list[str]:
        return [e["type"] for e in self.events[since:]]


@dataclass
class Turn:
    """What a client would have seen of one run: tokens, tool calls, the interrupt, and the raw chunks."""

    tokens: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    interrupts: list[Any] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    _call_start: int = 0

    def begin_call(self, node: str) -> None:
        """A specialist's model call starts."""
        self._call_start = len(self.tokens)

    def token(self, node: str, message: BaseMessage) -> None:
        """A chunk of a specialist's answer (from the runner's TokenTap)."""
        if message.text:
            self.tokens.append((node, message.text))

    def restart_call(self, node: str) -> None:
        """The call failed part-way: what it said is taken back."""
        del self.tokens[self._call_start :]
        self.restarts += 1

    @property
    def text(self) -> str:
        """The streamed answer."""
        return "".join(content for _, content in self.tokens)

    @property
    def agents(self) -> set[str]:
        """The agents that streamed tokens."""
        return {agent for agent, _ in self.tokens}

    @property
    def interrupt(self) -> dict[str, Any]:
        """The single interrupt payload of this turn."""
        assert len(self.interrupts) == 1, self.interrupts
        return self.interrupts[0].value

    def everything(self) -> str:
        """Every byte a client could see (tokens, tool calls, interrupts), for leak checks."""
        return repr((self.text, self.tool_calls, [i.value for i in self.interrupts]))


def make_saver() -> LatestCheckpointSaver:
    """A fresh saver (its own boto3 client), like a new Lambda environment, configured as build_checkpointer does."""
    return LatestCheckpointSaver(
        table_name="CheckpointsTable", ttl_seconds=1800, region_name="us-east-1", enable_checkpoint_compression=True
    )


def make_graph(
    dynamodb: Any,
    saver: BaseCheckpointSaver[Any] | None = None,
    model: Any = None,
    context: Any = None,
    help_center: Any = None,
    orders: Any = None,
) -> Any:
    """The compiled agent on the moto tables (or `orders`) with the offline model (no delay) and the shipped help
    center."""
    return build_graph(
        model=model or OfflineChatModel(token_delay_ms=0),
        orders=orders or OrderStore("OrdersTable", dynamodb=dynamodb),
        tickets=TicketStore("ConversationsTable", dynamodb=dynamodb),
        checkpointer=saver or make_saver(),
        context=context,
        help_center=help_center,
    )


def config(thread_id: str) -> dict[str, Any]:
    """The run config of a thread."""
    return {"configurable": {"thread_id": thread_id}}


def run(graph: Any, payload: Any, cfg: dict[str, Any], durability: str = "exit", callbacks: Any = None) -> Turn:
    """Stream one run (a new message or a Command) and collect what the runner would forward, as it streams it."""
    turn = Turn()
    cfg = {**cfg, "callbacks": [*(callbacks or []), TokenTap(turn, lambda: False)]}
    for chunk in graph.stream(payload, cfg, stream_mode="updates", durability=durability):
        turn.updates.append(chunk)
        for node, update in chunk.items():
            if node == "__interrupt__":
                turn.interrupts.extend(update)
                continue
            for message in (update or {}).get("messages", []):
                if node in AGENT_NODES and isinstance(message, AIMessage) and message.tool_calls:
                    turn.tool_calls.extend(
                        {"tool": call["name"], "args": call["args"], "agent": node} for call in message.tool_calls
                    )
    return turn


def say(graph: Any, thread_id: str, content: str, customer_id: str = DEMO, callbacks: Any = None) -> Turn:
    """The customer sends one message."""
    payload = {"messages": [HumanMessage(content)], "customer_id": customer_id, "thread_id": thread_id}
    return run(graph, payload, config(thread_id), callbacks=callbacks)


def bound(pending: dict[str, Any], approved: bool, decided_by: str = "customer", **extra: Any) -> dict[str, Any]:
    """A resume value bound to one approval request, as the runner builds it from a decision."""
    return {
        "interrupt_id": pending["interrupt_id"],
        "args_hash": pending["args_hash"],
        "approved": approved,
        "decided_by": decided_by,
        **extra,
    }


def pending_request(graph: Any, thread_id: str) -> dict[str, Any]:
    """The approval request the thread's graph is paused on."""
    (pending,) = graph.get_state(config(thread_id)).interrupts
    return dict(pending.value)


def decide(
    graph: Any, thread_id: str, approved: bool, decided_by: str = "customer", comment: str | None = None, **extra: Any
) -> Turn:
    """Resume the thread's pending approval with a decision bound to it."""
    resume = bound(pending_request(graph, thread_id), approved, decided_by, comment=comment, **extra)
    return run(graph, Command(resume=resume), config(thread_id))


def dangling_tool_calls(graph: Any, thread_id: str) -> list[str | None]:
    """Tool call ids in the checkpointed conversation that have no ToolMessage."""
    messages = graph.get_state(config(thread_id)).values["messages"]
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    return [c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls if c["id"] not in answered]
