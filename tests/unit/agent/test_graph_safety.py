"""The graph is safe with a real model (issue 24): no invented order or address reaches an approval, a declined
request is not asked again in the same turn, handoffs are bounded, and tool rounds end in an answer."""

from __future__ import annotations

# mypy: disable-error-code="call-overload,arg-type"
# (states are built as plain dicts here; the graph validates them at run time)
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver

from smart_support.agent import tools as tools_module
from smart_support.agent.graph import MAX_HANDOFFS_PER_TURN, MAX_TOOL_ROUNDS_PER_TURN, build_graph, run_tool
from smart_support.agent.tools import build_toolsets
from tests.unit.agent.fakes import FakeOrders, FakeTickets


class Scripted(BaseChatModel):
    """A model that plays a script: each call returns the next message (and records what it was shown)."""

    script: list[AIMessage]
    seen: list[list[BaseMessage]] = []
    tool_less_calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[getattr(t, "name", t) for t in tools])

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.seen.append(list(messages))
        if "tools" not in kwargs:
            self.tool_less_calls += 1
            return ChatResult(generations=[ChatGeneration(message=AIMessage("Here is what I found."))])
        step = self.script.pop(0) if self.script else AIMessage("Done.")
        return ChatResult(generations=[ChatGeneration(message=step)])


def call(name: str, args: dict[str, Any], n: int) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{n}", "type": "tool_call"}])


def run_turn(model: Scripted, text: str) -> list[BaseMessage]:
    graph = build_graph(model=model, orders=FakeOrders(), tickets=FakeTickets(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-1"}, "recursion_limit": 40}
    state = graph.invoke(
        {"messages": [HumanMessage(text)], "customer_id": "demo-customer", "thread_id": "t-1", "turn": 1}, config
    )
    return list(state["messages"])


def results(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    return [json.loads(m.text) for m in messages if isinstance(m, ToolMessage)]


@pytest.fixture
def no_interrupts(monkeypatch) -> Iterator[list[dict[str, Any]]]:
    asked: list[dict[str, Any]] = []

    def interrupt(payload: dict[str, Any]) -> Any:
        asked.append(payload)
        return {
            "interrupt_id": payload["interrupt_id"],
            "args_hash": payload["args_hash"],
            "approved": False,
            "decided_by": "customer",
        }

    monkeypatch.setattr(tools_module, "interrupt", interrupt)
    yield asked


def tool(name: str) -> Any:
    toolsets = build_toolsets(FakeOrders(), FakeTickets())
    return {t.name: t for ts in toolsets.values() for t in ts}[name]


def test_an_order_the_customer_never_mentioned_is_asked_about_not_acted_on(no_interrupts):
    # Given a customer who asked to cancel "my order" and a model that guessed 1043
    state = {"messages": [HumanMessage("I want to cancel my order")], "customer_id": "demo-customer", "thread_id": "t"}
    # When the tool runs
    result = run_tool(
        {"cancel_order": tool("cancel_order")},
        {"name": "cancel_order", "args": {"order_id": "1043"}, "id": "c1", "type": "tool_call"},
        state,
    )
    # Then nobody is asked to approve it, and the model is told to ask
    assert json.loads(result.text)["error"] == "ask_order_number"
    assert no_interrupts == []


@pytest.mark.parametrize("address", ["123 Elm St, Anytown", "x", "5 Main Street"])
def test_an_address_the_customer_did_not_give_never_reaches_an_approval(no_interrupts, address):
    state = {
        "messages": [HumanMessage("Please change the shipping address of order 1043")],
        "customer_id": "demo-customer",
        "thread_id": "t",
    }
    args = {"order_id": "1043", "address": address}
    result = run_tool(
        {"update_shipping_address": tool("update_shipping_address")},
        {"name": "update_shipping_address", "args": args, "id": "c1", "type": "tool_call"},
        state,
    )
    assert json.loads(result.text)["error"] in ("ask_address", "invalid_address")
    assert no_interrupts == []


def test_an_address_in_the_customers_words_is_asked_for(no_interrupts):
    state = {
        "messages": [HumanMessage("Ship order 1043 to 12 Oak Street, Springfield, OR 97403 please")],
        "customer_id": "demo-customer",
        "thread_id": "t",
    }
    args = {"order_id": "1043", "address": "12 Oak Street, Springfield, OR 97403"}
    run_tool(
        {"update_shipping_address": tool("update_shipping_address")},
        {"name": "update_shipping_address", "args": args, "id": "c1", "type": "tool_call"},
        state,
    )
    assert [a["args"]["address"] for a in no_interrupts] == ["12 Oak Street, Springfield, OR 97403"]


def test_a_declined_request_is_not_asked_again_in_the_same_turn(no_interrupts):
    # Given a model that asks for the same cancel three times in one turn, and a customer who rejects it
    model = Scripted(script=[call("cancel_order", {"order_id": "1043"}, n) for n in range(3)])
    # When the turn runs
    messages = run_turn(model, "Please cancel order 1043")
    # Then the customer was asked once; the later calls were refused without asking
    assert len(no_interrupts) == 1
    outcomes = [r.get("result") or r.get("error") for r in results(messages)]
    assert outcomes == ["not_changed", "already_declined", "already_declined"]


def test_handoffs_are_bounded_and_never_straight_back(no_interrupts):
    # Given specialists that keep handing the turn to each other (as a small model did until GraphRecursionError)
    script = [
        call(f"transfer_to_{t}", {}, n)
        for n, t in enumerate(["order_actions", "order_status", "knowledge", "order_status", "escalation"])
    ]
    model = Scripted(script=script)
    # When the turn runs
    messages = run_turn(model, "What is the status of order 1042?")
    # Then at most two handoffs happened, the hand-back was refused, and the turn ended with an answer
    transfers = [r for r in results(messages) if "transferred_to" in r]
    refused = [r for r in results(messages) if r.get("error") == "not_transferred"]
    assert len(transfers) <= MAX_HANDOFFS_PER_TURN
    assert refused
    assert isinstance(messages[-1], AIMessage) and messages[-1].text and not messages[-1].tool_calls


def test_a_turn_of_endless_tool_calls_ends_in_an_answer(no_interrupts):
    # Given a model that never stops calling tools
    model = Scripted(script=[call("get_order_status", {"order_id": "1042"}, n) for n in range(50)])
    # When the turn runs (no GraphRecursionError)
    messages = run_turn(model, "What is the status of order 1042?")
    # Then after the cap the specialist answered without tools
    rounds = sum(1 for m in messages if isinstance(m, AIMessage) and m.tool_calls)
    assert rounds == MAX_TOOL_ROUNDS_PER_TURN
    assert model.tool_less_calls == 1 and messages[-1].text == "Here is what I found."


def test_an_operators_words_reach_the_model_as_a_note_not_in_its_own_voice():
    model = Scripted(script=[AIMessage("Sure.")])
    graph = build_graph(model=model, orders=FakeOrders(), tickets=FakeTickets(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-2"}}
    operator = AIMessage("Support agent Alice: I have refunded you.", name="operator")
    graph.invoke(
        {
            "messages": [HumanMessage("hi"), operator, HumanMessage("thanks, anything else?")],
            "customer_id": "demo-customer",
            "thread_id": "t-2",
            "turn": 2,
        },
        config,
    )
    shown = model.seen[-1]
    assert not any(isinstance(m, AIMessage) and "Support agent" in m.text for m in shown)
    note = next(m for m in shown if isinstance(m, HumanMessage) and m.name == "operator")
    assert "human support agent" in note.text and "I have refunded you." in note.text
