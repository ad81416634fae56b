"""A fake of the company's order API (docs/integrations.md) on 127.0.0.1: for the tests and `make dev`.

It serves the demo orders of smart_support/store/demo_data.py with the contract's rules, checks the bearer token when
it is given one, and honours `Idempotency-Key`: a repeated key gets the first answer again without acting twice (the
same key with another request is a 422). Tests script faults per request: `fail_next(503)` answers the next request 503
without acting; `fail_next("drop", method="POST")` acts on the next write, then closes the connection without an
answer (a response lost on the way back);
`down = True` answers every request 503. Every request is kept (`requests`) for the tests to read.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smart_support.clock import iso
from smart_support.store.demo_data import DEMO_ORDERS
from smart_support.store.orders import Order

Fault = int | str  # an HTTP status answered without acting, or "drop": act, then close without answering

WRITES = {"cancel": "cancel_order", "refund": "request_refund", "address": "update_shipping_address"}


def order_to_api(order: Order) -> dict[str, Any]:
    """The domain's Order as the contract's (money in integer cents, the applied Idempotency-Keys)."""
    values = order.model_dump(
        mode="json", exclude={"items", "total", "refund_amount", "action_ids", "last_action_id", "version"}
    )
    values["items"] = [
        {"sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price_cents": round(i.unit_price * 100)}
        for i in order.items
    ]
    values["total_cents"] = round(order.total * 100)
    if order.refund_amount is not None:
        values["refund_amount_cents"] = round(order.refund_amount * 100)
    values["idempotency_keys"] = sorted(order.action_ids)
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeOrderApi:
    """The fake's state; `start()` serves it on 127.0.0.1 (port 0: any free one) until `stop()`."""

    token: str | None = None
    orders: dict[str, Order] = field(default_factory=lambda: {o.order_id: o.model_copy(deep=True) for o in DEMO_ORDERS})
    requests: list[Seen] = field(default_factory=list)
    down: bool = False
    faults: deque[tuple[str | None, Fault]] = field(default_factory=deque)  # (method or any, fault)
    answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)  # key -> (request, status, body)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def fail_next(self, *faults: Fault, method: str | None = None) -> None:
        """Answer the next requests (of `method`, or any) with these faults, one each, in order."""
        self.faults.extend((method, fault) for fault in faults)

    def writes(self) -> list[Seen]:
        """The POSTs received, retries included."""
        return [r for r in self.requests if r.method == "POST"]

    @property
    def url(self) -> str:
        """The base URL the store is configured with."""
        assert self.server is not None, "start() the fake first"
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self, port: int = 0) -> FakeOrderApi:
        """Serve on 127.0.0.1:`port` in a daemon thread."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.handle(self)

            def do_POST(self) -> None:
                api.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="fake-order-api", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # ------------------------------------------------------------ requests

    def handle(self, http: BaseHTTPRequestHandler) -> None:
        """Answer one request (a fault first, if one is scripted)."""
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self.lock:
            self.requests.append(Seen(http.command, http.path, dict(http.headers.items()), body))
            fault = self.next_fault(http.command)
            if self.down:
                fault = 503
            if isinstance(fault, int):
                status, answer = fault, _error("unavailable", "The order system is unavailable.")
            else:
                status, answer = self.route(http, body)
        if fault == "drop":  # acted on it; the answer is lost on the way back
            http.close_connection = True
            http.connection.close()
            return
        data = json.dumps(answer).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)

    def next_fault(self, method: str) -> Fault | None:
        """The first scripted fault for `method`, taken off the list (the lock is held)."""
        for index, (wanted, fault) in enumerate(self.faults):
            if wanted in (None, method):
                del self.faults[index]
                return fault
        return None

    def route(self, http: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        """The contract's routes (the lock is held)."""
        if self.token and http.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, _error("unauthorized", "A valid bearer token is required.")
        parts = http.path.strip("/").split("/")
        if http.command == "GET" and len(parts) == 4 and parts[0] == "customers" and parts[2] == "orders":
            order = self.orders.get(parts[3])
            if order is None or order.customer_id != parts[1]:
                return 404, _error("not_found", "No such order for this customer.")
            return 200, order_to_api(order)
        if http.command == "GET" and len(parts) == 3 and parts[0] == "customers" and parts[2] == "orders":
            mine = sorted((o for o in self.orders.values() if o.customer_id == parts[1]), key=lambda o: o.order_id)
            return 200, {"orders": [order_to_api(o) for o in mine]}
        if http.command == "POST" and len(parts) == 3 and parts[0] == "orders" and parts[2] in WRITES:
            return self.write(parts[1], WRITES[parts[2]], http.headers.get("Idempotency-Key"), body or {})
        return 404, _error("not_found", "No such route.")

    def write(self, order_id: str, action: str, key: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One write, once per Idempotency-Key."""
        if not key:
            return 400, _error("validation_error", "Idempotency-Key is required.")
        fingerprint = json.dumps([order_id, action, body], sort_keys=True)
        if key in self.answers:
            request, status, answer = self.answers[key]
            if request != fingerprint:
                return 422, _error("idempotency_key_reused", "This Idempotency-Key was used for another request.")
            return status, answer
        status, answer = self.act(order_id, action, key, body)
        if status < 500:
            self.answers[key] = (fingerprint, status, answer)
        return status, answer

    def act(self, order_id: str, action: str, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply a write under the demo rules."""
        order = self.orders.get(order_id)
        if order is None or order.customer_id != body.get("customer_id"):
            return 404, _error("not_found", "No such order for this customer.")
        if why := order.rule_violation(action):
            return 409, {"error": {"code": "rule_violation", "message": why, "status": order.status}}
        now = iso(time.time())
        changes: dict[str, Any] = {"updated_at": now, "last_action_id": key, "action_ids": [*order.action_ids, key]}
        if action == "cancel_order":
            changes |= {"status": "cancelled", "cancelled_at": now}
        elif action == "request_refund":
            cents = body.get("amount_cents")
            changes |= {"refund_status": "requested", "refund_requested_at": now}
            if cents is not None:
                if not isinstance(cents, int) or not 0 < cents <= round(order.total * 100):
                    return 422, _error("validation_error", "amount_cents must be between 1 and the order total.")
                changes["refund_amount"] = cents / 100
        else:
            address = str(body.get("address") or "").strip()
            if not address:
                return 422, _error("validation_error", "address is required.")
            changes["shipping_address"] = address
        updated = order.model_copy(update={**changes, "version": order.version + 1})
        self.orders[order_id] = updated
        return 200, order_to_api(updated)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


__all__ = ["FakeOrderApi", "order_to_api"]
