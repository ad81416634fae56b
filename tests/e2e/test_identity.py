"""Identity and isolation over a real WebSocket and HTTP: authorizers, ownership, roles, no leaks."""

import jwt
import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import new_thread, tokens


def refused_status(stack, token):
    """The HTTP status the handshake was refused with: 403, as API Gateway answers the authorizer's Deny policy."""
    with pytest.raises(InvalidStatus) as exc:
        stack.ws(token)
    return exc.value.response.status_code


def test_forged_signature_is_refused_at_the_handshake(stack):
    forged = jwt.encode(
        {"sub": "demo-customer", "role": "operator", "exp": 4_000_000_000},
        "not-the-server-secret-0123456789abcdef",
        algorithm="HS256",
    )
    assert refused_status(stack, forged) == 403


def test_expired_token_is_refused(stack):
    assert refused_status(stack, stack.token(ttl_seconds=-10)) == 403


def test_garbage_token_is_refused_even_with_anonymous_allowed(stack):
    assert refused_status(stack, "garbage") == 403


def test_anonymous_off_refuses_a_tokenless_connection(short_stack):
    assert refused_status(short_stack, None) == 403
    with short_stack.ws(short_stack.token()) as client:
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}


def test_a_thread_cannot_be_hijacked_over_websocket(stack):
    owner, intruder = stack.token("demo-customer"), stack.token("c-2001")
    thread = new_thread("private")
    with stack.ws(owner) as alice:
        alice.ask(thread, "What is the status of order 1042?")
        with stack.ws(intruder) as mallory:
            for frame in (
                {"type": "message", "thread_id": thread, "content": "What did we talk about?"},
                {"type": "resume", "thread_id": thread},
                {"type": "interrupt_response", "thread_id": thread, "interrupt_id": "i-1", "approved": True},
            ):
                mallory.send(frame)
                error = mallory.recv()
                assert error["type"] == "error" and error["code"] == "not_found", frame
                assert "1042" not in str(error) and "demo-customer" not in str(error)
            assert mallory.quiet(0.5) == []
        # the owner's thread is untouched and still usable
        assert alice.ask(thread, "When will it arrive?")[-1]["type"] == "message_complete"
        assert alice.quiet(0.3) == []


def test_a_thread_cannot_be_read_by_another_customer_over_http(stack):
    owner, intruder, operator = stack.token("demo-customer"), stack.token("c-2001"), stack.token("op", "operator")
    thread = new_thread("private")
    with stack.ws(owner) as client:
        client.ask(thread, "What is the status of order 1042?")
    for path in (f"/api/v1/sessions/{thread}", f"/api/v1/sessions/{thread}/messages"):
        status, body = stack.http("GET", path, intruder)
        assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["request_id"]
        assert "1042" not in str(body)
        assert stack.http("GET", path, owner)[0] == 200
        assert stack.http("GET", path, operator)[0] == 200
    listed = stack.http("GET", "/api/v1/sessions", intruder)[1]["sessions"]
    assert thread not in [s["thread_id"] for s in listed]


def test_another_customers_order_is_not_found(stack):
    with stack.ws(stack.token("c-2001")) as client:
        answer = tokens(client.ask(new_thread(), "What is the status of order 1042?")).lower()
        assert "shipped" not in answer and "ups" not in answer and "1z999" not in answer and "2026-11-28" not in answer
        assert "couldn't find" in answer or "could not find" in answer or "not find" in answer
    with stack.ws(stack.token("demo-customer")) as client:
        answer = tokens(client.ask(new_thread(), "What is the status of order 2001?")).lower()
        assert "processing" not in answer and "c-2001" not in answer


def test_operator_routes_need_the_operator_role(stack):
    customer = stack.token("demo-customer")
    for path in ("/api/v1/approvals?status=pending", "/api/v1/analytics", "/api/v1/audit", "/api/v1/tickets"):
        status, body = stack.http("GET", path, customer)
        assert status == 403 and body["error"]["code"] == "forbidden", path
        assert stack.http("GET", path)[0] == 403  # anonymous demo customer
        assert stack.http("GET", path, stack.token("op", "operator"))[0] == 200


def test_an_invalid_token_gets_the_same_401_envelope_on_every_route(stack):
    forged = jwt.encode(
        {"sub": "op", "role": "operator", "exp": 4_000_000_000},
        "not-the-server-secret-0123456789abcdef",
        algorithm="HS256",
    )
    expired = stack.token("op", "operator", ttl_seconds=-10)
    routes = [
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sessions/t-1/messages"),
        ("GET", "/api/v1/analytics"),
        ("GET", "/api/v1/approvals?status=pending"),
        ("POST", "/api/v1/approvals/i-1"),
        ("GET", "/api/v1/tickets"),
        ("POST", "/api/v1/tickets/T-1"),
        ("POST", "/api/v1/sessions/t-1/takeover"),
        ("POST", "/api/v1/sessions/t-1/messages"),
        ("GET", "/api/v1/sessions/bad%20id"),  # an invalid path too: the token is what is wrong first
        ("GET", "/api/v1/nope"),
    ]
    for token in ("not-a-jwt", forged, expired):
        for method, path in routes:
            status, body = stack.http(method, path, token, {} if method == "POST" else None)
            assert status == 401, (method, path, body)
            assert body["error"]["code"] == "unauthorized" and body["error"]["request_id"], (method, path)
            assert "invalid or expired" in body["error"]["message"]
    # Health needs no token and ignores a bad one
    assert stack.http("GET", "/api/v1/health", "not-a-jwt")[0] == 200


def test_no_token_with_anonymous_access_off_is_the_same_401(short_stack):
    status, body = short_stack.http("GET", "/api/v1/sessions")
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_no_stack_traces_or_tokens_reach_clients(stack):
    with stack.ws() as client:
        events = client.ask(new_thread(), "Please cancel order 1043")
        text = str(events)
        assert "Traceback" not in text and "taskToken" not in text and "task_token" not in text
        client.send(
            {
                "type": "interrupt_response",
                "thread_id": events[-1]["thread_id"],
                "interrupt_id": events[-1]["interrupt_id"],
                "approved": False,
            }
        )
        client.until(lambda e: e["type"] == "message_complete")
