"""How the answer streams: the runner's TokenTap relays each token as the model makes it, on the caller's thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from smart_support.agent.cancel import RunStopped
from smart_support.agent.models import OfflineChatModel
from smart_support.agent.relay import TokenTap
from tests.integration.agent_turns import DEMO, config, make_graph, say


class Sink:
    """What the relay would get: (when, thread, node, text) per token."""

    def __init__(self) -> None:
        self.tokens: list[tuple[float, int, str, str]] = []

    def begin_call(self, node: str) -> None:
        pass

    def token(self, node: str, message: BaseMessage) -> None:
        if message.text:  # a tool call's chunks carry no text
            self.tokens.append((time.perf_counter(), threading.get_ident(), node, message.text))

    def restart_call(self, node: str) -> None:
        raise AssertionError("no model call fails here")

    @property
    def text(self) -> str:
        return "".join(t[3] for t in self.tokens)


def stream(graph: Any, thread_id: str, content: str, sink: Sink, cancelled: Any = lambda: False) -> list[tuple]:
    """One turn streamed as the runner streams it; (when, node names) of each update."""
    payload = {"messages": [HumanMessage(content)], "customer_id": DEMO, "thread_id": thread_id}
    cfg = {**config(thread_id), "callbacks": [TokenTap(sink, cancelled)]}
    return [(time.perf_counter(), set(u)) for u in graph.stream(payload, cfg, stream_mode="updates", durability="exit")]


def final_answer(graph: Any, thread_id: str) -> str:
    return graph.get_state(config(thread_id)).values["messages"][-1].text


def test_tokens_reach_the_client_while_the_model_still_answers(dynamodb, orders):
    graph = make_graph(dynamodb, model=OfflineChatModel(token_delay_ms=5))
    sink = Sink()
    updates = stream(graph, "t-live", "where is my order 1042?", sink)
    answered_at = next(at for at, nodes in updates if "order_status" in nodes and at > sink.tokens[0][0])
    assert len(sink.tokens) > 5
    assert sink.tokens[0][0] < answered_at - 0.02  # the first token left well before the node's update
    assert sink.tokens[-1][0] - sink.tokens[0][0] > 0.02  # one at a time, as the model made them
    assert sink.text == final_answer(graph, "t-live")
    assert {node for _, _, node, _ in sink.tokens} == {"order_status"}
    assert {thread for _, thread, _, _ in sink.tokens} == {threading.get_ident()}  # no hand-off between threads


def test_a_model_that_does_not_stream_reaches_the_client_once_whole(dynamodb, orders):
    graph = make_graph(dynamodb, model=OfflineChatModel(token_delay_ms=0, disable_streaming=True))
    sink = Sink()
    stream(graph, "t-whole", "what can you do?", sink)
    assert len(sink.tokens) == 1
    assert sink.text == final_answer(graph, "t-whole") != ""


def test_a_stopped_run_ends_at_its_next_token_and_the_thread_goes_on(dynamodb, orders):
    graph = make_graph(dynamodb, model=OfflineChatModel(token_delay_ms=0))
    sink = Sink()

    def cancelled() -> bool:
        if len(sink.tokens) >= 3:
            raise RunStopped("the customer stopped this answer")
        return False

    with pytest.raises(RunStopped):
        stream(graph, "t-stop", "what can you do?", sink, cancelled)
    assert len(sink.tokens) == 3  # nothing after the stop
    next_turn = say(graph, "t-stop", "where is my order 1042?")
    assert "1042" in next_turn.text
    assert next_turn.agents == {"order_status"}
