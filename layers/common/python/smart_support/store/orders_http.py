"""Orders from the company's own REST API (ORDER_BACKEND=http; the contract is in docs/integrations.md).

The same OrderRepository as the orders table: reads and writes scoped to the customer, each write idempotent by its
action id, which travels as the `Idempotency-Key` header. Standard library only (urllib), so the agent's layer grows
by nothing.

Failures: every request has a timeout; a call is tried up to `attempts` times on what may pass (a connection that
failed or dropped, a timeout, 429, 500, 502, 503, 504). GETs are retried because they are safe; the writes are retried
too, only because each carries the same Idempotency-Key on every attempt, which the contract makes the server
answer with its first answer, without acting twice (a cancel whose response was lost is not cancelled again). A
small circuit breaker stops calling an API that keeps failing. Whatever is left becomes a domain error: OrderNotFound
(404), OrderRuleViolation (409), or OrderSystemUnavailable (the rest), with a log line and one metric; never a stack
trace to the customer.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPException
from typing import Any, Protocol

from pydantic import ValidationError

from smart_support.store.orders import Order, OrderAction, OrderNotFound, OrderRuleViolation, OrderSystemUnavailable

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
FAILURE_METRIC = "OrderBackendErrors"


class FailureSink(Protocol):
    """Where a failed call is counted: (metric name, reason), e.g. a Powertools Metrics adapter."""

    def __call__(self, metric: str, reason: str) -> None: ...


class CircuitBreaker:
    """Opens after `failures` consecutive failed calls, for `open_seconds`; then one trial call decides.

    One per process (a Lambda environment): a few environments each find out on their own, which is enough to stop
    a turn from waiting on an API that is down, and needs no shared state.
    """

    def __init__(
        self, failures: int = 5, open_seconds: float = 30, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "open" if self._clock() - self._opened_at < self.open_seconds else "half_open"

    def allow(self) -> bool:
        """May a call go out now (closed, or the one trial call after the open period)?"""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self.open_seconds or self._trial:
                return False
            self._trial = True
            return True

    def succeeded(self) -> None:
        """A call got an answer from the API (an error answer such as 404 counts: the API is up)."""
        with self._lock:
            self._consecutive, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        """A call failed after its retries (or the trial call failed): count it, open at the threshold."""
        with self._lock:
            self._consecutive += 1
            if self._trial or self._consecutive >= self.failures:
                self._opened_at, self._trial = self._clock(), False


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix; `reason` names it for the logs and the metric."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def order_from_api(payload: Mapping[str, Any]) -> Order:
    """The contract's Order (money in integer cents) as the domain's Order."""
    items = [
        {
            "sku": item["sku"],
            "name": item["name"],
            "quantity": item.get("quantity", 1),
            "unit_price": item["unit_price_cents"] / 100,
        }
        for item in payload.get("items") or []
    ]
    refund_cents = payload.get("refund_amount_cents")
    return Order.model_validate(
        {
            **{k: v for k, v in payload.items() if k in Order.model_fields and k not in ("items", "action_ids")},
            "items": items,
            "total": payload["total_cents"] / 100,
            "refund_amount": refund_cents / 100 if refund_cents is not None else None,
            "action_ids": list(payload.get("idempotency_keys") or []),
        }
    )


class HttpOrderStore:
    """OrderRepository over the company's order API (docs/integrations.md)."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None] = lambda: None,
        timeout: float = 5,
        attempts: int = 3,
        breaker: CircuitBreaker | None = None,
        on_failure: FailureSink | None = None,
        backoff: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.attempts = attempts
        self.breaker = breaker or CircuitBreaker()
        self._on_failure = on_failure
        self._backoff = backoff

    # ------------------------------------------------------------ OrderRepository

    def get_for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if `customer_id` owns it; None when absent or someone else's (the API answers 404 for both)."""
        if not order_id or not customer_id:
            return None
        try:
            payload = self._call("GET", f"/customers/{_segment(customer_id)}/orders/{_segment(order_id)}")
        except OrderNotFound:
            return None
        order = self._order(payload)
        return order if order.customer_id == customer_id and order.order_id == order_id else None

    def list_for_customer(self, customer_id: str) -> list[Order]:
        """Every order of `customer_id`."""
        payload = self._call("GET", f"/customers/{_segment(customer_id)}/orders")
        orders = [self._order(entry) for entry in payload.get("orders") or []]
        return [order for order in orders if order.customer_id == customer_id]

    def cancel(self, order_id: str, customer_id: str, action_id: str, now: float | None = None) -> Order:
        """Cancel a processing order; the same `action_id` is the same Idempotency-Key, acted on once."""
        return self._write(order_id, "cancel", "cancel_order", customer_id, action_id, {})

    def request_refund(
        self, order_id: str, customer_id: str, action_id: str, amount: float | None = None, now: float | None = None
    ) -> Order:
        """Request a refund (the whole order unless `amount`) of a delivered order, once."""
        body = {"amount_cents": round(float(amount) * 100)} if amount is not None else {}
        return self._write(order_id, "refund", "request_refund", customer_id, action_id, body)

    def update_shipping_address(
        self, order_id: str, customer_id: str, address: str, action_id: str, now: float | None = None
    ) -> Order:
        """Change the address of a processing order."""
        return self._write(order_id, "address", "update_shipping_address", customer_id, action_id, {"address": address})

    # ------------------------------------------------------------ requests

    def _write(
        self, order_id: str, verb: str, action: OrderAction, customer_id: str, action_id: str, body: dict[str, Any]
    ) -> Order:
        payload = self._call(
            "POST",
            f"/orders/{_segment(order_id)}/{verb}",
            body={"customer_id": customer_id, **body},
            idempotency_key=action_id,
            order_id=order_id,
            action=action,
        )
        order = self._order(payload)
        if order.customer_id != customer_id:  # the API broke its contract: never show another customer's order
            raise self._unavailable("wrong_customer")
        return order

    def _order(self, payload: Mapping[str, Any]) -> Order:
        try:
            return order_from_api(payload)
        except (KeyError, TypeError, ValueError, ValidationError):
            raise self._unavailable("bad_response") from None

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        order_id: str = "",
        action: str = "",
    ) -> dict[str, Any]:
        """One call: retried where it is safe, through the breaker, its failures mapped to the domain's errors."""
        if not self.breaker.allow():
            raise self._unavailable("circuit_open")
        headers = {"Accept": "application/json"}
        try:
            token = self._token()
        except Exception:  # SSM down or the parameter missing: the same answer, and the reason in the log
            logger.warning("The order API's token could not be read", exc_info=True)
            raise self._unavailable("credentials") from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        reason = "unknown"
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self._backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311 - jitter
            try:
                status, answer = self._send(method, path, data, headers)
            except _Retryable as exc:
                reason = exc.reason
                continue
            if status in RETRYABLE_STATUS:
                reason = f"http_{status}"
                continue
            self.breaker.succeeded()
            return self._answer(status, answer, order_id, action)
        self.breaker.failed()
        raise self._unavailable(reason)

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        """One attempt: (status, parsed JSON body), or _Retryable."""
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, headers=headers, method=method)  # noqa: S310 - the URL is validated http(s)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except TimeoutError:
            raise _Retryable("timeout") from None
        except urllib.error.URLError as exc:
            raise _Retryable("timeout" if isinstance(exc.reason, TimeoutError) else "connection") from None
        except (OSError, HTTPException):
            raise _Retryable("connection") from None  # e.g. the server closed the connection without an answer
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, None

    def _answer(self, status: int, answer: Any, order_id: str, action: str) -> dict[str, Any]:
        """A 2xx body, or the error its envelope names as the domain's exception."""
        error = answer.get("error") if isinstance(answer, dict) else None
        if 200 <= status < 300 and isinstance(answer, dict):
            return answer
        code = error.get("code") if isinstance(error, dict) else None
        if status == 404 or code == "not_found":
            raise OrderNotFound()
        if (status == 409 or code == "rule_violation") and action and isinstance(error, dict):
            message = error.get("message")
            raise OrderRuleViolation(
                order_id, action, str(error.get("status") or "unknown"), str(message) if message else None
            )
        raise self._unavailable(f"http_{status}" + (f"_{code}" if code else ""))

    def _unavailable(self, reason: str) -> OrderSystemUnavailable:
        """The domain error for a failure, logged and counted (once per call)."""
        logger.warning("The order API failed: %s", reason)
        if self._on_failure is not None:
            self._on_failure(FAILURE_METRIC, reason)
        return OrderSystemUnavailable(reason)


def _segment(value: str) -> str:
    """A path segment: ids from the model never reach another path (`1043/../x` stays one segment)."""
    return urllib.parse.quote(str(value), safe="")


__all__ = ["FAILURE_METRIC", "CircuitBreaker", "HttpOrderStore", "order_from_api"]
