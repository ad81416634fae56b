"""The graph on ChatBedrockConverse without network: recorded ConverseStream responses served to botocore.

The responses are real AWS event-stream bytes (prelude, headers, payload, CRCs) handed to botocore from a
`before-send` hook, so botocore's own parser, langchain-aws's stream handling and the graph all run for real.
The request bodies botocore would have sent are kept, so the tests read exactly what Bedrock would receive.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EventStreamError

from smart_support.agent import model_errors
from smart_support.agent.models import build_bedrock_model
from smart_support.agent.retry import ThrottlingError
from smart_support.agent.runner import TurnRunner
from smart_support.agent.usage import add_usage_metrics
from smart_support.aws import TransientError
from smart_support.settings import AgentModelSettings
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import ApprovalStore
from smart_support.store.sessions import SessionStore
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.streaming import EventSender
from tests.integration.agent_turns import DEMO, RecordingSender, make_graph, say

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (what Bedrock sends for each ConverseStream event; `!code`: an exception event)."""
    if event_type.startswith("!"):
        headers = {":message-type": "exception", ":exception-type": event_type[1:]}
    else:
        headers = {":event-type": event_type, ":message-type": "event"}
    return model_errors.event_message({**headers, ":content-type": "application/json"}, json.dumps(payload).encode())


CACHE_POINT = {"cachePoint": {"type": "default"}}


def text_reply(*deltas: str, usage: dict[str, int] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The events of a streamed text answer."""
    return [
        ("messageStart", {"role": "assistant"}),
        *[("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": d}}) for d in deltas],
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "end_turn"}),
        (
            "metadata",
            {
                "usage": usage or {"inputTokens": 420, "outputTokens": 30, "totalTokens": 450},
                "metrics": {"latencyMs": 310},
            },
        ),
    ]


def broken_off(code: str, *deltas: str) -> list[tuple[str, dict[str, Any]]]:
    """A streamed answer that Bedrock ends with exception event `code` after `deltas` (throttled mid-stream)."""
    return [
        ("messageStart", {"role": "assistant"}),
        *[("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": d}}) for d in deltas],
        (f"!{code}", {"message": model_errors.STREAM_MESSAGES.get(code, code)}),
    ]


def tool_use_reply(
    name: str,
    args: dict[str, Any],
    tool_use_id: str,
    preamble: str | None = None,
    usage: dict[str, int] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The events of a tool call (optionally after some text), its input streamed in two pieces."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if preamble:
        events += [
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": preamble}}),
            ("contentBlockStop", {"contentBlockIndex": 0}),
        ]
        index = 1
    raw = json.dumps(args)
    events += [
        (
            "contentBlockStart",
            {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": raw[:5]}}}),
        ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": raw[5:]}}}),
        ("contentBlockStop", {"contentBlockIndex": index}),
        ("messageStop", {"stopReason": "tool_use"}),
        (
            "metadata",
            {
                "usage": usage or {"inputTokens": 380, "outputTokens": 25, "totalTokens": 405},
                "metrics": {"latencyMs": 250},
            },
        ),
    ]
    return events


class _RawStream:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        # Small pieces, as from a socket: messages split across reads.
        for start in range(0, len(self._data), 64):
            yield self._data[start : start + 64]

    def close(self) -> None:
        pass


class RecordedBedrock:
    """Answers ConverseStream calls from a script and keeps the request bodies (first response a throttle)."""

    def __init__(self, script: list[list[tuple[str, dict[str, Any]]]], throttle_first: bool = False) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.throttles = 1 if throttle_first else 0
        self.attempts = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.attempts += 1
        if self.throttles:
            self.throttles -= 1
            body = json.dumps({"message": "Too many requests, please wait before trying again."}).encode()
            headers = {
                "x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "content-type": "application/json",
            }
            return AWSResponse(request.url, 429, headers, _RawStream(body))
        self.requests.append(json.loads(request.body))
        events = self.script.pop(0)
        data = b"".join(event_message(kind, payload) for kind, payload in events)
        return AWSResponse(request.url, 200, {"content-type": "application/vnd.amazon.eventstream"}, _RawStream(data))


def bedrock_graph(dynamodb, recorded: RecordedBedrock):
    # A non-AWS endpoint: moto (active for DynamoDB) leaves it alone, and nothing could ever leave the machine.
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="https://bedrock.recorded.invalid")
    client.meta.events.register_first("before-send.bedrock-runtime.ConverseStream", recorded)
    client.meta.events.register_first("before-send.bedrock-runtime.Converse", _no_plain_converse)
    settings = AgentModelSettings(model_provider="bedrock", bedrock_model_id=MODEL_ID)
    return make_graph(dynamodb, model=build_bedrock_model(settings, client=client))


def _no_plain_converse(**_: Any) -> None:
    raise AssertionError("every model call should stream (ConverseStream)")


def test_bedrock_tool_turn_takes_two_calls_and_marks_prompt_and_tools_for_caching(dynamodb, orders):
    # Given Bedrock answers: call get_order_status, then a streamed answer
    answer = ["Order 1042 has shipped", " with UPS (tracking 1Z999AA10123456784)", " and should arrive by 2026-11-28."]
    recorded = RecordedBedrock(
        [
            tool_use_reply("get_order_status", {"order_id": "1042"}, "tooluse_status", preamble="Let me check."),
            text_reply(*answer),
        ]
    )
    graph = bedrock_graph(dynamodb, recorded)

    # When the customer asks about order 1042
    turn = say(graph, "t-bedrock", "What is the status of order 1042?")

    # Then the supervisor routed without a model call: two requests, the tool call and the streamed answer
    assert len(recorded.requests) == 2
    assert turn.tool_calls == [{"tool": "get_order_status", "args": {"order_id": "1042"}, "agent": "order_status"}]
    assert turn.agents == {"order_status"}
    assert turn.text == "Let me check." + "".join(answer)
    assert [content for _, content in turn.tokens][-3:] == answer

    # And each request ends its system prompt and its tool definitions with a cache point
    tool_request, answer_request = recorded.requests
    for request in recorded.requests:
        assert request["system"][0]["text"].startswith("You work for the customer-support team")
        assert request["system"][1] == CACHE_POINT
        assert request["toolConfig"]["tools"][-1] == CACHE_POINT
    tool_specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in tool_request["toolConfig"]["tools"] if "toolSpec" in t}
    assert set(tool_specs) == {
        "get_order_status",
        "track_shipment",
        "transfer_to_order_actions",
        "transfer_to_knowledge",
        "transfer_to_escalation",
    }
    assert set(tool_specs["get_order_status"]["inputSchema"]["json"]["properties"]) == {"order_id"}
    results = [
        block["toolResult"]
        for message in answer_request["messages"]
        for block in message["content"]
        if "toolResult" in block
    ]
    assert results[0]["toolUseId"] == "tooluse_status"
    assert "1Z999AA10123456784" in json.dumps(results[0]["content"])


def test_a_misrouted_turn_is_handed_over_to_the_right_specialist(dynamodb, orders):
    # Given a question the keyword router sends to the help desk, where Bedrock hands it to order status
    recorded = RecordedBedrock(
        [
            tool_use_reply("transfer_to_order_status", {}, "tooluse_handoff"),
            tool_use_reply("get_order_status", {"order_id": "1042"}, "tooluse_status"),
            text_reply("Order 1042 is on its way."),
        ]
    )
    graph = bedrock_graph(dynamodb, recorded)

    # When the customer asks in words the router does not know
    turn = say(graph, "t-bedrock-handoff", "My parcel never showed up and I am getting worried")

    # Then the order-status specialist (its own prompt and tools) looked the order up and answered
    knowledge_request, status_request, _ = recorded.requests
    assert "help-desk specialist" in knowledge_request["system"][0]["text"]
    assert "order-status specialist" in status_request["system"][0]["text"]
    assert turn.tool_calls == [
        {"tool": "transfer_to_order_status", "args": {}, "agent": "knowledge"},
        {"tool": "get_order_status", "args": {"order_id": "1042"}, "agent": "order_status"},
    ]
    assert turn.text == "Order 1042 is on its way."
    assert turn.agents == {"order_status"}


def test_cached_tokens_reach_the_turn_result_and_the_metrics(dynamodb, orders):
    # Given Bedrock reports cache reads on both calls of a tool turn
    recorded = RecordedBedrock(
        [
            tool_use_reply(
                "get_order_status",
                {"order_id": "1042"},
                "tooluse_status",
                usage={"inputTokens": 60, "outputTokens": 25, "totalTokens": 1285, "cacheReadInputTokens": 1200},
            ),
            text_reply(
                "Order 1042 has shipped.",
                usage={
                    "inputTokens": 180,
                    "outputTokens": 12,
                    "totalTokens": 1392,
                    "cacheReadInputTokens": 1150,
                    "cacheWriteInputTokens": 50,
                },
            ),
        ]
    )
    graph = bedrock_graph(dynamodb, recorded)
    sessions = SessionStore("ConversationsTable", 1800, dynamodb=dynamodb)
    sessions.begin_turn("t-bedrock-usage", DEMO, "conn-1")
    gateway = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com/dev",
        region_name="us-east-1",
    )
    table = "ConversationsTable"
    approvals = ApprovalService(  # a run that asks for no approval never calls it
        ApprovalStore(table, dynamodb), sessions, TurnWorkflow(), AnalyticsStore(table, dynamodb)
    )
    runner = TurnRunner(graph, sessions, approvals, EventSender("", client=gateway))
    task = AgentTask(
        task="run",
        turn=TurnRequest(
            thread_id="t-bedrock-usage",
            turn=1,
            owner=DEMO,
            content="What is the status of order 1042?",
            connection_id="conn-1",
            started_at=time.time(),
        ),
    )

    # When the agent runs the turn and reports its metrics
    result = runner.handle(task)
    metrics = EphemeralMetrics(namespace="SmartSupport", service="agent")  # Metrics() shares one set per process
    add_usage_metrics(metrics, result["usage"])
    emitted: dict[str, Any] = dict(metrics.serialize_metric_set())

    # Then the cache reads and writes Bedrock reported are in the result and in the CloudWatch metrics
    assert result["outcome"] == "complete"
    assert result["usage"] == {
        "model_calls": 2,
        "model_calls_before_first_token": 2,
        "input_tokens": 60 + 1200 + 180 + 1150 + 50,
        "output_tokens": 37,
        "cache_read_input_tokens": 2350,
        "cache_write_input_tokens": 50,
    }
    assert emitted["ModelCacheReadInputTokens"] == [2350.0]
    assert emitted["ModelCacheWriteInputTokens"] == [50.0]
    assert emitted["ModelCallsBeforeFirstToken"] == [2.0]


def test_bedrock_write_tool_interrupts_with_the_model_args(dynamodb, orders):
    # Given Bedrock calls cancel_order
    recorded = RecordedBedrock([tool_use_reply("cancel_order", {"order_id": "1043"}, "tooluse_cancel")])
    graph = bedrock_graph(dynamodb, recorded)

    # When the customer asks to cancel
    turn = say(graph, "t-bedrock-cancel", "Please cancel my order 1043")

    # Then the run pauses for approval with exactly those arguments
    assert turn.interrupt["action"] == "cancel_order"
    assert turn.interrupt["args"] == {"order_id": "1043"}
    assert turn.tool_calls == [{"tool": "cancel_order", "args": {"order_id": "1043"}, "agent": "order_actions"}]


def test_bedrock_throttling_is_retried(dynamodb, orders):
    # Given Bedrock throttles the first request once
    recorded = RecordedBedrock([text_reply("Hello! ", "How can I help?")], throttle_first=True)
    graph = bedrock_graph(dynamodb, recorded)

    # When the customer greets
    turn = say(graph, "t-bedrock-throttle", "Hi")

    # Then botocore retried and the turn completed, after one model call
    assert recorded.attempts == 2
    assert len(recorded.requests) == 1
    assert turn.text == "Hello! How can I help?"
    assert turn.agents == {"knowledge"}


def retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The graph's waits before it tries a failed model call again (recorded, not slept)."""
    waits: list[float] = []
    monkeypatch.setattr("langgraph.pregel._retry.time.sleep", waits.append)
    return waits


def test_a_throttle_mid_stream_is_retried_and_its_partial_answer_taken_back(dynamodb, orders, monkeypatch):
    # Given Bedrock throttles after the answer started streaming, then answers in full
    waits = retry_waits(monkeypatch)
    recorded = RecordedBedrock([broken_off("throttlingException", "Hello! "), text_reply("Hello! ", "How can I help?")])
    graph = bedrock_graph(dynamodb, recorded)

    # When the customer greets
    turn = say(graph, "t-bedrock-midstream", "Hi")

    # Then the graph asked again after the throttling backoff (2 s, plus up to 1 s of jitter)
    assert len(recorded.requests) == 2
    assert len(waits) == 1 and 2.0 <= waits[0] <= 3.0
    # And the partial answer was taken back: the answer is there once
    assert turn.restarts == 1
    assert turn.text == "Hello! How can I help?"


def runner_task(dynamodb, graph, thread_id: str) -> tuple[TurnRunner, AgentTask, RecordingSender]:
    sessions = SessionStore("ConversationsTable", 1800, dynamodb=dynamodb)
    sessions.begin_turn(thread_id, DEMO, "conn-1")
    sender = RecordingSender()
    runner = TurnRunner(graph, sessions, None, sender)  # type: ignore[arg-type]  # a run needs no approvals
    turn = TurnRequest(
        thread_id=thread_id, turn=1, owner=DEMO, content="Hi", connection_id="conn-1", started_at=time.time()
    )
    return runner, AgentTask(task="run", turn=turn), sender


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        ("throttlingException", ThrottlingError),
        ("modelStreamErrorException", TransientError),
        ("internalServerException", TransientError),
        ("serviceUnavailableException", TransientError),
    ],
)
def test_a_stream_that_keeps_breaking_off_fails_the_task_for_the_state_machine_to_retry(
    dynamodb, orders, monkeypatch, code, failure
):
    # Given Bedrock breaks off every stream with `code` after a few words
    retry_waits(monkeypatch)
    recorded = RecordedBedrock([broken_off(code, "Hel", "lo")] * 3)
    runner, task, sender = runner_task(dynamodb, bedrock_graph(dynamodb, recorded), f"t-broken-{code}")

    # When the agent runs the turn
    with pytest.raises(TransientError) as failed:
        runner.handle(task)

    # Then after the graph's three tries the task fails with the error type the state machine retries
    assert type(failed.value) is failure
    assert len(recorded.requests) == 3
    cause = failed.value.__cause__
    assert isinstance(cause, EventStreamError) and cause.response["Error"]["Code"] == code
    # And it is the shape the offline model raises for LOCAL_FAULTS
    offline = model_errors.stream_error(code)
    assert (type(offline), offline.response, offline.operation_name) == (
        type(cause),
        cause.response,
        cause.operation_name,
    )
    # And each partial answer that reached the client was taken back: it holds none of them
    kinds = sender.types()
    assert kinds and kinds == ["token", "answer_restart"] * (len(kinds) // 2)
