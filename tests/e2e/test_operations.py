"""What operations watch is real: the metrics the dashboard draws are the ones the functions emit for real turns, and
the authorizer-refusals metric filter matches the line the authorizer logs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from local.inprocess import InProcessStack
from local.template import load_template
from smart_support.turns import metrics as turn_metrics
from tests.e2e.conftest import Client, new_thread

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def dashboard_metrics() -> set[str]:
    """The SmartSupport metric names the template's dashboard draws."""
    body = load_template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(body)["widgets"]
    return {m[1] for w in widgets for m in w["properties"].get("metrics", []) if m[0] == "SmartSupport"}


def emitted_by_code() -> set[str]:
    """Metric names the functions emit: turn metrics, literal add_metric calls, the template's metric filters."""
    names = {v for k, v in vars(turn_metrics).items() if k.isupper() and isinstance(v, str) and k != "HANDOFF_TOOL"}
    for app in (ROOT / "functions").glob("*/app.py"):
        names |= set(re.findall(r'add_metric\(name="(\w+)"', app.read_text()))
    for resource in load_template()["Resources"].values():
        if resource["Type"] == "AWS::Logs::MetricFilter":
            names |= {t["MetricName"] for t in resource["Properties"]["MetricTransformations"]}
    return names


def test_the_dashboard_draws_only_metrics_the_code_emits():
    drawn = dashboard_metrics()
    assert {"Turns", "TurnLatency", "FirstTokenLatency", "ApprovalsRequested", "Handoffs", "FrameErrors"} <= drawn
    assert drawn <= emitted_by_code(), drawn - emitted_by_code()


def test_the_refusals_metric_filter_matches_what_the_authorizer_logs(stack):
    # Given the template's metric filter on the authorizer's log group: { $.field = "value" }
    ((pattern,),) = [
        [r["Properties"]["FilterPattern"]]
        for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
        and r["Properties"]["MetricTransformations"][0]["MetricName"] == "AuthorizerRefusals"
    ]
    parsed = re.fullmatch(r'\{ \$\.(\w+) = "([^"]+)" \}', pattern)
    assert parsed, pattern
    field, value = parsed.groups()

    # When a connection with a forged token is refused
    with pytest.raises(InvalidStatus):
        stack.ws("not-a-token")

    # Then the authorizer logged a JSON line the filter counts
    lines = [json.loads(line) for line in stack.log().splitlines() if line.startswith("{")]
    assert any(line.get(field) == value and line.get("service") == "smart-support" for line in lines), pattern


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[InProcessStack, list[tuple[str, Any]]]]:
    """An in-process stack whose agent function records the metrics it adds."""
    stack = InProcessStack(OFFLINE_TOKEN_DELAY_MS="0").start()
    seen: list[tuple[str, Any]] = []
    function = stack.stack.functions.functions["AgentFunction"]
    if function.module is None:
        function.load()
    assert function.module is not None
    agent_metrics = function.module.metrics
    original = agent_metrics.add_metric

    def add_metric(name: str, unit: Any, value: float, **kw: Any) -> None:
        seen.append((name, value))
        original(name=name, unit=unit, value=value, **kw)

    agent_metrics.add_metric = add_metric
    yield stack, seen
    agent_metrics.add_metric = original
    stack.stop()


def client(stack: InProcessStack, sub: str) -> Client:
    from websockets.sync.client import connect

    return Client(connect(stack.ws_url(stack.token(sub)), open_timeout=10))


def settled(seen: list[tuple[str, Any]], expected: set[str], timeout: float = 10) -> list[tuple[str, Any]]:
    """The recorded metrics once `expected` are all in (the client hears a turn end before its function returns)."""
    deadline = time.monotonic() + timeout
    while not expected <= {name for name, _ in seen} and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # and anything the same invocations add next
    return list(seen)


def test_a_turn_emits_turns_latency_and_first_token_latency(recorded):
    stack, seen = recorded
    seen.clear()
    with client(stack, "c-metrics-1") as ws:
        ws.ask(new_thread("m"), "What is the status of order 1042?")
    names = dict(settled(seen, {"Turns"}))
    assert {"AgentRuns", "Turns", "TurnLatency", "FirstTokenLatency"} <= set(names)
    assert 0 < names["FirstTokenLatency"] <= names["TurnLatency"]


def test_an_approval_and_a_handoff_are_counted(recorded):
    stack, seen = recorded
    seen.clear()
    thread = new_thread("m")
    with client(stack, "demo-customer") as ws:
        interrupt = ws.ask(thread, "Please cancel order 1043")[-1]
        assert interrupt["type"] == "interrupt"
        ws.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": True,
            }
        )
        ws.until(lambda e: e["type"] == "message_complete")
        ws.ask(new_thread("m"), "I want to talk to a human")
    names = [name for name, _ in settled(seen, {"ApprovalsRequested", "ApprovalsApproved", "Handoffs"})]
    assert names.count("ApprovalsRequested") == 1
    assert names.count("ApprovalsApproved") == 1
    assert names.count("Handoffs") == 1
