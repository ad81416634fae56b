"""ORDER_BACKEND=http through the real graph and the offline model, against the fake order API (local/order_api.py):
reads, a gated cancel whose write carries the approval's id as Idempotency-Key, retries that act once, an API that is
down, and another customer's order."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from langchain_core.messages import ToolMessage

from local.order_api import FakeOrderApi
from smart_support.agent.relay import write_result
from smart_support.store.orders_http import CircuitBreaker, HttpOrderStore
from tests.integration.agent_turns import OTHER, config, decide, make_graph, say

TOKEN = "test-order-api-token"
UNREACHABLE = "I can't reach the order system right now; please try again in a few minutes or ask for a person."


@pytest.fixture
def api() -> Iterator[FakeOrderApi]:
    fake = FakeOrderApi(token=TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def failures() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def store(api, failures) -> HttpOrderStore:
    return HttpOrderStore(
        api.url,
        token=lambda: TOKEN,
        timeout=2,
        attempts=3,
        breaker=CircuitBreaker(failures=5, open_seconds=30),
        on_failure=lambda metric, reason: failures.append((metric, reason)),
        backoff=0,
    )


@pytest.fixture
def graph(dynamodb, store):
    return make_graph(dynamodb, orders=store)


def last_tool_result(graph, thread_id: str) -> dict:
    messages = graph.get_state(config(thread_id)).values["messages"]
    return json.loads(next(m for m in reversed(messages) if isinstance(m, ToolMessage)).text)


def test_a_status_question_is_answered_from_the_api(graph, api):
    # When the customer asks about a shipped order
    turn = say(graph, "h-status", "What is the status of order 1042?")

    # Then the answer comes from the API, which was called with the bearer token for this customer's order
    assert "UPS" in turn.text
    assert "1Z999AA10123456784" in turn.text
    assert [(r.method, r.path) for r in api.requests] == [("GET", "/customers/demo-customer/orders/1042")]
    assert api.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_approved_cancel_writes_once_with_the_approval_id_as_idempotency_key(graph, api):
    # Given a cancel waiting for the customer's approval (nothing written yet)
    first = say(graph, "h-cancel", "Please cancel order 1043")
    interrupt_id = first.interrupt["interrupt_id"]
    assert api.writes() == []

    # When the customer approves
    turn = decide(graph, "h-cancel", approved=True)

    # Then one POST carried the approval's id as Idempotency-Key and the customer's id, and the order is cancelled
    (write,) = api.writes()
    assert (write.path, write.headers["Idempotency-Key"]) == ("/orders/1043/cancel", interrupt_id)
    assert write.body == {"customer_id": "demo-customer"}
    assert api.orders["1043"].status == "cancelled"
    assert "cancelled" in turn.text
    assert last_tool_result(graph, "h-cancel")["result"] == "cancelled"


@pytest.mark.parametrize("fault", ["drop", 503])
def test_a_retried_cancel_sends_the_same_key_and_cancels_once(graph, api, failures, fault):
    # Given a cancel approved while the API loses its first answer (acted, then dropped) or answers 503 first
    interrupt_id = say(graph, f"h-retry-{fault}", "Cancel order 1043").interrupt["interrupt_id"]
    api.fail_next(fault, method="POST")

    # When the customer approves
    turn = decide(graph, f"h-retry-{fault}", approved=True)

    # Then the retry sent the same key and body, the order was cancelled once, and the customer hears it was
    writes = api.writes()
    assert len(writes) == 2
    assert {w.headers["Idempotency-Key"] for w in writes} == {interrupt_id}
    assert writes[0].body == writes[1].body
    assert api.orders["1043"].action_ids == [interrupt_id]
    assert api.orders["1043"].version == 1
    assert "cancelled" in turn.text
    assert failures == []


def test_the_api_down_before_the_approval_is_a_clear_answer_and_no_approval(graph, api, failures):
    # Given the order API answering 503 to everything
    api.down = True

    # When the customer asks for a cancel and for a status
    cancel = say(graph, "h-down", "Cancel order 1043")
    status = say(graph, "h-down-status", "What is the status of order 1042?")

    # Then no approval was asked, nothing was written, each answer is the unreachable sentence, and it was counted
    assert cancel.interrupts == []
    assert UNREACHABLE in cancel.text
    assert UNREACHABLE in status.text
    assert api.writes() == []
    assert api.orders["1043"].status == "processing"
    assert failures == [("OrderBackendErrors", "http_503"), ("OrderBackendErrors", "http_503")]
    assert "Traceback" not in cancel.text + status.text


def test_the_api_down_at_the_write_changes_nothing_and_the_audit_says_not_ran(graph, api, failures):
    # Given a cancel waiting for approval, and then the API going down
    say(graph, "h-down-write", "Cancel order 1043")
    api.down = True

    # When the customer approves
    turn = decide(graph, "h-down-write", approved=True)

    # Then the customer hears the order system is unreachable, the order is unchanged, and the write did not run
    assert UNREACHABLE in turn.text
    assert api.orders["1043"].status == "processing"
    messages = graph.get_state(config("h-down-write")).values["messages"]
    result = write_result(next(m for m in reversed(messages) if isinstance(m, ToolMessage)))
    assert result is not None
    assert (result["ran"], result["result"]) == (False, "order_system_unavailable")
    assert graph.get_state(config("h-down-write")).interrupts == ()
    assert failures


def test_the_api_unreachable_opens_the_circuit(dynamodb, api, failures):
    # Given a store pointed at a port nobody listens on, with a breaker that opens after 2 failed calls
    api.stop()
    store = HttpOrderStore(
        api.url,
        timeout=1,
        attempts=2,
        breaker=CircuitBreaker(failures=2, open_seconds=60),
        on_failure=lambda metric, reason: failures.append((metric, reason)),
        backoff=0,
    )
    graph = make_graph(dynamodb, orders=store)

    # When the customer asks three times
    answers = [say(graph, f"h-refused-{i}", "What is the status of order 1042?").text for i in range(3)]

    # Then every answer is the unreachable sentence, and the third never tried the network
    assert all(UNREACHABLE in answer for answer in answers)
    assert [reason for _, reason in failures] == ["connection", "connection", "circuit_open"]


def test_another_customers_order_is_not_found(graph, api):
    # When the demo customer asks about, and tries to cancel, order 2001 (c-2001's)
    status = say(graph, "h-other", "What is the status of order 2001?")
    cancel = say(graph, "h-other-cancel", "Cancel order 2001")

    # Then it is reported as not found, no approval is asked, and the order is untouched
    assert "couldn't find order 2001" in status.text
    assert cancel.interrupts == []
    assert "couldn't find order 2001" in cancel.text
    assert api.orders["2001"].status == "processing"
    assert api.writes() == []
    # and its owner sees it
    assert "processing" in say(graph, "h-owner", "What is the status of order 2001?", customer_id=OTHER).text
