"""Failures inside a turn, on the local stack running in this process (so a function's module can be patched).

The patches stand in for what a real Lambda can meet (a crash, DynamoDB throttling, a huge model answer); the
code that handles them is the product's own: the runner, the state machine's Retry/Catch, botocore's retries,
the token coalescer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError
from langchain_core.messages import AIMessage, HumanMessage

from smart_support.agent.models import OfflineChatModel
from smart_support.protocol.types import MAX_FRAME_BYTES
from tests.aws_faults import Injection, injected
from tests.e2e.conftest import new_thread
from tests.faults.conftest import function_module, transcript, wait_for_status


def turn_write_fails(thread: str, code: str, times: int) -> AbstractContextManager[Injection]:
    """Inject `code` into the first `times` end-of-turn transactions of `thread` (before moto sees them)."""
    return injected(
        "dynamodb",
        "TransactWriteItems",
        code,
        times=times,
        when=lambda body: thread in json.dumps(body) and "TURN#" in json.dumps(body),
    )


pytestmark = pytest.mark.e2e


class PatchedGraph:
    """The agent's compiled graph, except that `stream` first asks `before(thread_id)` (which may raise)."""

    def __init__(self, graph: Any, before: Callable[[str], None]) -> None:
        self._graph = graph
        self._before = before

    def stream(self, graph_input: Any, config: dict, *args: Any, **kwargs: Any) -> Any:
        self._before(config["configurable"]["thread_id"])
        return self._graph.stream(graph_input, config, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@contextmanager
def agent_graph_patched(inproc, before: Callable[[str], None]) -> Iterator[None]:
    runner = function_module(inproc, "AgentFunction").runner
    original = runner.graph
    runner.graph = PatchedGraph(original, before)
    try:
        yield
    finally:
        runner.graph = original


def usage_once_returned(recorder: Any, before: Any, function_id: str, invocations: int, timeout: float = 5) -> Any:
    """The calls since `before`, once `function_id` has returned `invocations` times (the client hears the turn's
    last event before the function returns, and an invocation is counted when it returns)."""
    deadline = time.monotonic() + timeout
    usage = recorder.snapshot().diff(before)
    while usage.invocations[function_id] < invocations and time.monotonic() < deadline:
        time.sleep(0.02)
        usage = recorder.snapshot().diff(before)
    return usage


def fail_once(prefix: str, exc: Exception) -> Callable[[str], None]:
    state = {"left": 1}

    def before(thread_id: str) -> None:
        if thread_id.startswith(prefix) and state["left"]:
            state["left"] -= 1
            raise exc

    return before


def test_agent_crash_reports_an_error_and_the_thread_recovers(inproc, inproc_client):
    token = inproc_client.token("c-crash")
    thread = new_thread("crash")
    # Given the agent Lambda raises on this thread's next run
    with agent_graph_patched(inproc, fail_once(thread, RuntimeError("model provider exploded"))):
        with inproc_client.ws(token) as client:
            # When the customer sends a message
            events = client.ask(thread, "How long does shipping take?")
            # Then the state machine's Catch reports a generic error (no internals) to the client
            error = events[-1]
            assert error["type"] == "error" and error["code"] == "internal_error"
            assert error["thread_id"] == thread and "exploded" not in error["message"]
            # And the thread is back to idle, and the next message works
            wait_for_status(inproc_client, thread, token, "idle")
            events = client.ask(thread, "How long does shipping take?")
            assert events[-1]["type"] == "message_complete"
    # The failed turn's question stays in the transcript (it was asked, and stored when its turn began), unanswered
    assert [e["role"] for e in transcript(inproc_client, thread, token)] == ["user", "user", "assistant"]


def test_throttling_past_the_client_retries_is_retried_by_the_state_machine(inproc, inproc_client):
    token = inproc_client.token("c-throttled")
    thread = new_thread("throttle-sfn")
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Query")
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    with agent_graph_patched(inproc, fail_once(thread, throttled)):
        with inproc_client.ws(token) as client:
            events = client.ask(thread, "How long does shipping take?")
    # Then RunAgent's Retry ran the agent again and the turn completed, once, with no error
    assert events[-1]["type"] == "message_complete"
    assert not [e for e in events if e["type"] == "error"]
    assert invocations["AgentFunction"] - before == 2


def test_dynamodb_throttling_is_retried_by_the_client(inproc, inproc_client):
    token = inproc_client.token("c-throttled-ddb")
    thread = new_thread("throttle-ddb")
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    # Given DynamoDB throttles the turn's final write twice (answered before moto sees it, as AWS would answer)
    with turn_write_fails(thread, "ThrottlingException", times=2) as fault:
        with inproc_client.ws(token) as client:
            events = client.ask(thread, "How long does shipping take?")
    # Then botocore's standard retry mode retried it within the one run, and the turn completed
    assert fault.hits == 2, events
    assert events[-1]["type"] == "message_complete", events
    assert invocations["AgentFunction"] - before == 1
    wait_for_status(inproc_client, thread, token, "idle")

    assert events[-1]["type"] == "message_complete", events
    assert invocations["AgentFunction"] - before == 1
    wait_for_status(inproc_client, thread, token, "idle")


BIG = "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€ " * 1500  # 61,500 characters, 181 KB of UTF-8


def test_an_oversize_answer_is_split_under_the_frame_limit(inproc, inproc_client, monkeypatch):
    original = OfflineChatModel.reply

    def huge_reply(self, messages, tools):
        if isinstance(messages[-1], HumanMessage) and "OVERSIZE" in messages[-1].text:
            return AIMessage(content=BIG)
        return original(self, messages, tools)

    # Given a model that answers with 181 KB of text (more than a WebSocket message may carry)
    monkeypatch.setattr(OfflineChatModel, "reply", huge_reply)
    token = inproc_client.token("c-oversize")
    thread = new_thread("oversize")
    with inproc_client.ws(token) as client:
        client.send({"type": "message", "thread_id": thread, "content": "OVERSIZE please, what is your policy?"})
        raw_frames: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = client.conn.recv(timeout=30)
            raw_frames.append(raw)
            if json.loads(raw)["type"] in ("message_complete", "error"):
                break
    events = [json.loads(r) for r in raw_frames]
    # Then every frame is under 32 KB, the tokens add up to the answer, and the turn completes
    assert events[-1]["type"] == "message_complete"
    assert max(len(r.encode()) for r in raw_frames) < MAX_FRAME_BYTES
    assert "".join(e["content"] for e in events if e["type"] == "token") == BIG
    # And the replay has all of it
    assert transcript(inproc_client, thread, token)[-1]["content"] == BIG


def test_an_address_too_long_for_an_approval_frame_is_refused_before_asking(inproc, inproc_client):
    # Given a valid message (8,000 characters) whose address, shown in an approval request, would be 48 KB of UTF-8
    token = inproc_client.token("demo-customer")
    thread = new_thread("huge-address")
    prefix = "Please change the address of order 1043 to 12 Main Street, Springfield "
    content = prefix + "€" * (8000 - len(prefix))
    with inproc_client.ws(token) as client:
        client.send(json.dumps({"type": "message", "thread_id": thread, "content": content}, ensure_ascii=False))
        events = client.until(lambda e: e["type"] in ("interrupt", "message_complete", "error"), timeout=30)
        # Then the address is refused (by the tool: 300 characters at most; or by the offline model, which reads it
        # as no postal address) instead of asking for an approval that could not be delivered: every frame fits,
        # no interrupt, the answer says why, the order is unchanged
        assert all(len(json.dumps(e, ensure_ascii=False).encode()) < MAX_FRAME_BYTES for e in events)
        assert events[-1]["type"] == "message_complete"
        assert not any(e["type"] == "interrupt" for e in events)
        answer = "".join(e["content"] for e in events if e["type"] == "token").lower()
        assert "too long" in answer or "complete postal address" in answer  # the tool's or the model's refusal
        # And the thread is usable again
        wait_for_status(inproc_client, thread, token, "idle")
        assert client.ask(thread, "How long does shipping take?")[-1]["type"] == "message_complete"


def test_a_retried_run_agent_sends_the_client_nothing_twice(inproc, inproc_client):
    token = inproc_client.token("c-retried-run")
    thread = new_thread("retried-run")
    invocations = inproc.stack.functions.invocations
    before = invocations["AgentFunction"]
    # Given the turn's final write fails past every retry once the answer has streamed (ten throttled attempts)
    with turn_write_fails(thread, "ThrottlingError", times=10) as fault:
        with inproc_client.ws(token) as client:
            client.send({"type": "message", "thread_id": thread, "content": "How long does shipping take?"})
            events = client.until(lambda e: e["type"] == "message_complete", timeout=60)
            extra = client.quiet(1.0)
    # Then Step Functions retried RunAgent, and the client got the answer once and one message_complete
    assert fault.hits == 10
    assert invocations["AgentFunction"] - before == 2
    answer = "".join(e["content"] for e in events if e["type"] == "token")
    saved = transcript(inproc_client, thread, token)
    assert [e["role"] for e in saved] == ["user", "assistant"]
    assert answer == saved[-1]["content"]
    assert [e["type"] for e in events].count("message_complete") == 1 and extra == []
