"""A tool call a small model wrote as text becomes a call (agent/text_tool_calls.py), through the real graph, against
a fake OpenAI-compatible endpoint streaming the real wire format; text never grants a tool that is not bound."""

from __future__ import annotations

import json

import pytest

from smart_support.agent.models import build_model
from smart_support.agent.text_tool_calls import could_be_call, written_call
from tests.integration.agent_turns import make_graph, say
from tests.integration.fake_openai import text_answer
from tests.integration.test_agent_openai import ANSWER, SeenTokens, openai_settings, serve

STATUS_CALL = {"name": "get_order_status", "arguments": {"order_id": "1042"}}


def pieces(text: str, size: int = 9) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize(
    "written",
    [
        json.dumps(STATUS_CALL),  # bare, as Qwen2.5-Coder 1.5B wrote it
        "```json\n" + json.dumps({"name": "get_order_status", "parameters": {"order_id": "1042"}}) + "\n```",
        "  " + json.dumps({"type": "function", "function": {**STATUS_CALL, "arguments": '{"order_id": "1042"}'}}),
    ],
    ids=["bare", "fenced-parameters", "function-envelope"],
)
def test_a_call_written_as_text_runs_as_the_call_and_the_customer_never_sees_it(dynamodb, orders, written: str):
    # Given an endpoint whose model writes its get_order_status call as text, then answers from the result
    seen = SeenTokens()
    with serve([text_answer(*pieces(written)), text_answer(*ANSWER)]) as endpoint:
        graph = make_graph(dynamodb, model=build_model(openai_settings(endpoint.base_url)))

        # When the customer asks about order 1042
        turn = say(graph, "t-text-call", "What is the status of order 1042?", callbacks=[seen])

    # Then the tool ran as if the model had called it, and only the real answer reached the customer
    assert turn.tool_calls == [{"tool": "get_order_status", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert [content for _, content in turn.tokens] == ANSWER
    assert "get_order_status" not in "".join(seen.tokens)
    # And the second request carried the call and its result, bound by the id given to it
    messages = endpoint.requests[1].body["messages"]
    (call_message,) = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    (result,) = [m for m in messages if m["role"] == "tool"]
    assert result["tool_call_id"] == call_message["tool_calls"][0]["id"]
    assert "1Z999AA10123456784" in result["content"]


def test_text_naming_a_tool_that_is_not_bound_stays_text(dynamodb, orders):
    # Given a model that writes a cancel_order call as text while the order-status specialist (no cancel tool) acts
    written = json.dumps({"name": "cancel_order", "arguments": {"order_id": "1042"}})
    with serve([text_answer(*pieces(written))]) as endpoint:
        graph = make_graph(dynamodb, model=build_model(openai_settings(endpoint.base_url)))

        # When the customer asks about order 1042
        turn = say(graph, "t-text-unbound", "What is the status of order 1042?")

    # Then nothing ran and nothing was asked: the text was an answer (the graph's rules decide what it becomes)
    assert turn.tool_calls == []
    assert turn.interrupts == []
    assert "cancel_order" in "".join(content for _, content in turn.tokens)
    assert len(endpoint.requests) == 1


def test_only_an_answer_that_may_be_a_call_is_held():
    assert could_be_call("")
    assert could_be_call('  {"name": "tra')
    assert could_be_call("``")
    assert could_be_call("```js")
    assert could_be_call("```json\n{")
    assert could_be_call("```\n")
    assert not could_be_call("Order 1042")
    assert not could_be_call("```python\nprint(1)")
    assert not could_be_call("{" + "x" * 5000)


def test_only_exactly_one_call_of_a_bound_tool_is_a_call():
    names = ["get_order_status"]
    assert written_call(json.dumps(STATUS_CALL), names) == ("get_order_status", {"order_id": "1042"})
    assert written_call(json.dumps(STATUS_CALL) + " Let me check.", names) is None
    assert written_call(json.dumps(STATUS_CALL), ["track_shipment"]) is None
    assert written_call(json.dumps([STATUS_CALL]), names) is None
    assert written_call('{"name": "get_order_status", "arguments": "not json"}', names) is None
    assert written_call('{"order": 1042}', names) is None
