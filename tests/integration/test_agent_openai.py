"""The graph on ChatOpenAI (MODEL_PROVIDER=openai) against a fake OpenAI-compatible endpoint on 127.0.0.1.

The endpoint streams chat.completion.chunk events over real HTTP (tests/integration/fake_openai.py), so the openai
client, langchain-openai's stream handling, the graph and the approval flow all run for real, and the tests read
exactly the requests an OpenAI-compatible server (llama.cpp, vLLM, Ollama, a hosted API) would receive.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage

from smart_support.agent.models import NO_API_KEY, OPENAI_MAX_TOKENS, build_model
from smart_support.settings import AgentModelSettings
from smart_support.store.orders import OrderStore
from smart_support.turns.policy import args_hash
from tests.integration.agent_turns import DEMO, config, decide, make_graph, say
from tests.integration.fake_openai import MODEL, FakeOpenAI, text_answer, tool_call

ORDER_STATUS_TOOLS = {
    "get_order_status",
    "track_shipment",
    "transfer_to_order_actions",
    "transfer_to_knowledge",
    "transfer_to_escalation",
}


class SeenTokens(BaseCallbackHandler):
    """The text tokens the client has received so far; the fake endpoint waits on it between chunks."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.changed = threading.Condition()
        self.late: list[str] = []  # pieces the endpoint sent on without the client having seen them

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        """A chunk of text reached the client."""
        if isinstance(token, str) and token:
            with self.changed:
                self.tokens.append(token)
                self.changed.notify_all()

    def wait_for(self, piece: str) -> None:
        """Hold the endpoint's next chunk until `piece` reached the client (at most 5 s)."""
        with self.changed:
            if not self.changed.wait_for(lambda: piece in self.tokens, timeout=5):
                self.late.append(piece)


def openai_settings(base_url: str, **extra: Any) -> AgentModelSettings:
    """The agent's model settings for an OpenAI-compatible endpoint, whatever OPENAI_* this shell has set."""
    given = {"openai_model": MODEL, "openai_api_key": None, "openai_api_key_parameter": None, **extra}
    return AgentModelSettings(model_provider="openai", openai_base_url=base_url, **given)


def serve(script: list[list[dict[str, Any]]], seen: SeenTokens | None = None) -> FakeOpenAI:
    """The fake endpoint; with `seen`, it sends no content chunk before the client has received the previous one."""
    return FakeOpenAI(script, after_content=seen.wait_for if seen else None)


ANSWER = ["Order 1042 has shipped", " with UPS (tracking 1Z999AA10123456784)", " and should arrive by 2026-11-28."]
STATUS_SCRIPT = [tool_call("get_order_status", {"order_id": "1042"}, "call_status"), text_answer(*ANSWER)]


@pytest.fixture
def status_endpoint() -> Iterator[FakeOpenAI]:
    """The endpoint calls get_order_status for 1042, then streams ANSWER in three chunks."""
    with serve(STATUS_SCRIPT) as endpoint:
        yield endpoint


def order_status(orders: OrderStore, order_id: str) -> str:
    """The demo customer's order as the store reads it back."""
    order = orders.get_for_customer(order_id, DEMO)
    assert order is not None
    return order.status


def test_a_status_question_calls_get_order_status_and_streams_the_answer(dynamodb, orders):
    # Given the agent on an OpenAI-compatible endpoint that calls get_order_status, then streams an answer,
    # holding each chunk until the client has received the one before
    seen = SeenTokens()
    with serve(STATUS_SCRIPT, seen) as endpoint:
        graph = make_graph(dynamodb, model=build_model(openai_settings(endpoint.base_url)))

        # When the customer asks about order 1042
        turn = say(graph, "t-openai", "What is the status of order 1042?", callbacks=[seen])

    # Then the tool call assembled from its streamed pieces ran, and the answer reached the client chunk by chunk
    assert turn.tool_calls == [{"tool": "get_order_status", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert [content for _, content in turn.tokens] == ANSWER
    assert turn.agents == {"order_status"}
    assert seen.late == []  # each chunk reached the client before the endpoint sent the next one
    assert endpoint.completed == 2  # both responses streamed to their [DONE]

    # And the answer kept the usage the endpoint reported in its last chunk
    final = graph.get_state(config("t-openai")).values["messages"][-1]
    assert isinstance(final, AIMessage)
    assert final.usage_metadata is not None
    assert (final.usage_metadata["input_tokens"], final.usage_metadata["output_tokens"]) == (412, 31)


def test_each_request_carries_the_system_prompt_the_tools_and_the_tool_result(dynamodb, orders, status_endpoint):
    # Given the agent on the endpoint
    graph = make_graph(dynamodb, model=build_model(openai_settings(status_endpoint.base_url)))

    # When a status question takes its two model calls
    say(graph, "t-openai-requests", "What is the status of order 1042?")

    # Then both were streamed chat completions with usage, at temperature 0, capped, without a key
    tool_request, answer_request = status_endpoint.requests
    assert status_endpoint.completed == 2
    for request in (tool_request, answer_request):
        assert request.path == "/v1/chat/completions"
        assert request.headers["authorization"] == f"Bearer {NO_API_KEY}"
        body = request.body
        assert (body["model"], body["stream"], body["stream_options"]) == (MODEL, True, {"include_usage": True})
        assert (body["temperature"], body["max_completion_tokens"]) == (0, OPENAI_MAX_TOKENS)
        system = body["messages"][0]
        assert system["role"] == "system"
        assert system["content"].startswith("You work for the customer-support team")
        assert "order-status specialist" in system["content"]

    # And the tools went as functions with their names, descriptions and JSON schemas (no injected arguments)
    tools = {tool["function"]["name"]: tool for tool in tool_request.body["tools"]}
    assert set(tools) == ORDER_STATUS_TOOLS
    assert {tool["type"] for tool in tools.values()} == {"function"}
    status = tools["get_order_status"]["function"]
    assert status["description"]
    assert status["parameters"]["type"] == "object"
    assert set(status["parameters"]["properties"]) == {"order_id"}
    assert status["parameters"]["properties"]["order_id"]["type"] == "string"
    assert status["parameters"]["required"] == ["order_id"]

    # And the second request replayed the call and carried its result, bound by the call's id
    messages = answer_request.body["messages"]
    (call_message,) = [m for m in messages if m["role"] == "assistant" and m.get("tool_calls")]
    assert call_message["tool_calls"] == [
        {
            "id": "call_status",
            "type": "function",
            "function": {"name": "get_order_status", "arguments": json.dumps({"order_id": "1042"})},
        }
    ]
    (result,) = [m for m in messages if m["role"] == "tool"]
    assert result["tool_call_id"] == "call_status"
    assert "1Z999AA10123456784" in result["content"]


def test_a_cancel_request_pauses_for_approval_with_the_canonical_args(dynamodb, orders: OrderStore):
    # Given the endpoint calls cancel_order with the order number as the customer wrote it, then confirms
    script = [
        tool_call("cancel_order", {"order_id": "#1043"}, "call_cancel"),
        text_answer("Order 1043 is now cancelled.", " You won't be charged."),
    ]
    with serve(script) as endpoint:
        graph = make_graph(dynamodb, model=build_model(openai_settings(endpoint.base_url)))

        # When the customer asks to cancel
        turn = say(graph, "t-openai-cancel", "Please cancel my order 1043")

        # Then the run pauses for the customer's approval of the canonical call, before any further model call
        assert turn.tool_calls == [{"tool": "cancel_order", "args": {"order_id": "#1043"}, "agent": "order_actions"}]
        pending = turn.interrupt
        assert (pending["action"], pending["args"], pending["approver"]) == (
            "cancel_order",
            {"order_id": "1043"},
            "customer",
        )
        assert pending["args_hash"] == args_hash({"order_id": "1043"})
        assert len(endpoint.requests) == 1
        assert order_status(orders, "1043") == "processing"

        # When the customer approves
        resumed = decide(graph, "t-openai-cancel", approved=True)

    # Then the order is cancelled, the model read the result and answered
    assert order_status(orders, "1043") == "cancelled"
    assert resumed.text == "Order 1043 is now cancelled. You won't be charged."
    (result,) = [m for m in endpoint.requests[1].body["messages"] if m["role"] == "tool"]
    assert result["tool_call_id"] == "call_cancel"
    assert json.loads(result["content"])["result"] == "cancelled"


def test_the_api_key_is_read_from_its_ssm_parameter(aws):
    # Given the key in a SecureString parameter (as in AWS), and no key in the environment
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/smart-support/test/openai-api-key", Value="sk-from-ssm-0123", Type="SecureString"
    )
    with serve([text_answer("Hello!")]) as endpoint:
        settings = openai_settings(endpoint.base_url, openai_api_key_parameter="/smart-support/test/openai-api-key")
        model = build_model(settings)

        # When the model is called
        reply = model.invoke("Hi")

    # Then the request carried the key from SSM as a bearer token, and the client retries and times out as set
    assert reply.text == "Hello!"
    assert endpoint.requests[0].headers["authorization"] == "Bearer sk-from-ssm-0123"
    assert (getattr(model, "max_retries", None), getattr(model, "request_timeout", None)) == (2, 60)
