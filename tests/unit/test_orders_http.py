"""The HTTP order backend without a network: its circuit breaker, retries and the mapping of answers to the domain."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from local.order_api import order_to_api
from smart_support.settings import AgentSettings, OrderBackendSettings
from smart_support.store.demo_data import DEMO_ORDERS
from smart_support.store.orders import OrderNotFound, OrderRuleViolation, OrderSystemUnavailable
from smart_support.store.orders_http import CircuitBreaker, HttpOrderStore, _Retryable, order_from_api

ORDER_1043 = next(o for o in DEMO_ORDERS if o.order_id == "1043")
Answer = tuple[int, Any] | _Retryable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedStore(HttpOrderStore):
    """The store with its one network attempt replaced by scripted answers (status, body) or _Retryable failures."""

    def __init__(self, *answers: Answer, **kwargs: Any) -> None:
        self.failures: list[tuple[str, str]] = []
        kwargs.setdefault("on_failure", lambda metric, reason: self.failures.append((metric, reason)))
        super().__init__("https://orders.example.com/v1", backoff=0, **kwargs)
        self.answers: deque[Answer] = deque(answers)
        self.sent: list[tuple[str, str, bytes | None, dict[str, str]]] = []

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        self.sent.append((method, path, data, headers))
        answer = self.answers.popleft()
        if isinstance(answer, _Retryable):
            raise answer
        return answer


def test_the_breaker_opens_after_n_consecutive_failures_and_a_trial_call_closes_it():
    # Given a breaker that opens after 3 failures for 30 s
    clock = Clock()
    breaker = CircuitBreaker(failures=3, open_seconds=30, clock=clock)

    # When 2 calls fail, one succeeds, then 3 fail in a row
    for _ in range(2):
        breaker.failed()
    breaker.succeeded()
    assert breaker.state == "closed"
    for _ in range(3):
        breaker.failed()

    # Then it is open (no call goes out) until 30 s have passed; then exactly one trial call may go
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 30
    assert breaker.state == "half_open"
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    breaker.failed()  # the trial failed: open again for another 30 s
    assert breaker.state == "open"
    clock.now += 30
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed"
    assert breaker.allow()


def test_an_open_circuit_fails_fast_without_calling_the_api():
    # Given a store whose breaker opened after one failed call (3 failed attempts)
    store = ScriptedStore(*[_Retryable("timeout")] * 3, breaker=CircuitBreaker(failures=1, open_seconds=60))
    with pytest.raises(OrderSystemUnavailable):
        store.get_for_customer("1043", "demo-customer")

    # When the next call comes
    with pytest.raises(OrderSystemUnavailable) as raised:
        store.cancel("1043", "demo-customer", "a-1")

    # Then nothing was sent, and the customer's answer and the metric say the order system is unreachable
    assert len(store.sent) == 3
    assert raised.value.reason == "circuit_open"
    assert "can't reach the order system" in raised.value.message
    assert store.failures == [("OrderBackendErrors", "timeout"), ("OrderBackendErrors", "circuit_open")]


def test_a_write_is_retried_with_the_same_idempotency_key_and_body():
    # Given an API that answers 503, then drops the connection, then answers
    cancelled = order_to_api(ORDER_1043.model_copy(update={"status": "cancelled", "action_ids": ["a-1"]}))
    store = ScriptedStore((503, {"error": {"code": "unavailable"}}), _Retryable("connection"), (200, cancelled))

    # When the cancel runs
    order = store.cancel("1043", "demo-customer", "a-1")

    # Then every attempt carried the same key and request, and the cancelled order came back
    assert order.status == "cancelled"
    assert {(m, p, d, h["Idempotency-Key"]) for m, p, d, h in store.sent} == {
        ("POST", "/orders/1043/cancel", b'{"customer_id": "demo-customer"}', "a-1")
    }
    assert len(store.sent) == 3
    assert store.failures == []


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        ((404, {"error": {"code": "not_found", "message": "no"}}), OrderNotFound, None),
        (
            (409, {"error": {"code": "rule_violation", "message": "Order 1043 is shipped.", "status": "shipped"}}),
            OrderRuleViolation,
            None,
        ),
        ((401, {"error": {"code": "unauthorized", "message": "no"}}), OrderSystemUnavailable, "http_401_unauthorized"),
        (
            (422, {"error": {"code": "idempotency_key_reused"}}),
            OrderSystemUnavailable,
            "http_422_idempotency_key_reused",
        ),
        ((200, {"order_id": "1043"}), OrderSystemUnavailable, "bad_response"),
        ((200, None), OrderSystemUnavailable, "http_200"),
    ],
)
def test_each_answer_of_a_write_becomes_one_domain_error(answer, error, reason):
    # Given an API answering a refund this way
    store = ScriptedStore(answer)

    # When the refund is requested
    with pytest.raises(error) as raised:
        store.request_refund("1043", "demo-customer", "a-2", amount=12.5)

    # Then it is the domain's error (a rule violation keeps the API's sentence); failures are counted, answers not
    assert store.sent[0][2] == b'{"customer_id": "demo-customer", "amount_cents": 1250}'
    if isinstance(raised.value, OrderRuleViolation):
        assert (raised.value.status, raised.value.reason) == ("shipped", "Order 1043 is shipped.")
    if reason:
        assert raised.value.reason == reason
        assert store.failures == [("OrderBackendErrors", reason)]
    else:
        assert store.failures == []
    assert store.breaker.state == "closed"  # the API answered: it is up


def test_reads_are_retried_then_give_up_as_unavailable():
    # Given an API that times out on every attempt
    store = ScriptedStore(*[_Retryable("timeout")] * 3, attempts=3)

    # When an order is read, Then the read gave up after 3 attempts as unavailable
    with pytest.raises(OrderSystemUnavailable) as raised:
        store.get_for_customer("1042", "demo-customer")
    assert raised.value.reason == "timeout"
    assert [s[0] for s in store.sent] == ["GET"] * 3


def test_another_customers_order_and_odd_ids_are_not_found():
    # Given the API's 404, and an API that (wrongly) returns another customer's order
    store = ScriptedStore((404, {"error": {"code": "not_found"}}), (200, order_to_api(DEMO_ORDERS[-1])))

    # Then both read as None, and an id is one path segment
    assert store.get_for_customer("2001", "demo-customer") is None
    assert store.get_for_customer("2001", "demo-customer") is None
    assert store.get_for_customer("", "demo-customer") is None
    assert store.sent[0][1] == "/customers/demo-customer/orders/2001"
    store.answers.append((404, {}))
    store.get_for_customer("1043/../x", "demo-customer")
    assert store.sent[-1][1] == "/customers/demo-customer/orders/1043%2F..%2Fx"


def test_the_bearer_token_is_sent_and_a_token_failure_is_unavailable():
    # Given a token source that works, then one that fails (SSM down)
    store = ScriptedStore((200, order_to_api(ORDER_1043)), token=lambda: "t0k")
    assert store.get_for_customer("1043", "demo-customer") == ORDER_1043.model_copy(update={"version": 0})
    assert store.sent[0][3]["Authorization"] == "Bearer t0k"

    def broken() -> str:
        raise RuntimeError("ssm down")

    failing = ScriptedStore(token=broken)
    with pytest.raises(OrderSystemUnavailable) as raised:
        failing.get_for_customer("1043", "demo-customer")
    assert raised.value.reason == "credentials"
    assert failing.sent == []


def test_the_contract_order_round_trips_to_the_domain_order():
    for order in DEMO_ORDERS:
        assert order_from_api(order_to_api(order)) == order


def test_http_backend_needs_a_url_at_cold_start(settings_environment):
    # Given ORDER_BACKEND=http without ORDER_API_URL, Then validation fails naming the variable
    with pytest.raises(ValueError, match="ORDER_API_URL is required"):
        OrderBackendSettings(order_backend="http")
    with pytest.raises(ValueError, match="http:// or https://"):
        OrderBackendSettings(order_backend="http", order_api_url="ftp://x")
    with pytest.raises(ValueError, match="starting with /"):
        OrderBackendSettings(order_backend="http", order_api_url="https://x", order_api_token_parameter="tok")
    settings_environment(
        ORDER_BACKEND="http", ORDER_API_URL="https://orders.example.com", ORDER_API_TOKEN_PARAMETER="/p/token"
    )
    assert "order_api_token_parameter" in AgentSettings.model_fields
    assert OrderBackendSettings().order_api_token_parameter == "/p/token"
