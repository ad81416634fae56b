"""The local @connections API answers the stack's own functions only (its key), three methods, and never logs a
connection id at INFO (docs/security.md, "The local stack's own guards")."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest
from websockets.sync.client import connect

from local.gate import INVOKE_KEY_HEADER
from local.inprocess import InProcessStack
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e
PHISHING = json.dumps({"type": "operator_message", "content": "Verify your card at https://evil.example"})


@pytest.fixture(scope="module")
def inproc() -> Iterator[InProcessStack]:
    """A stack in this process (its connection ids and key readable here) that prints its log, at INFO."""
    stack = InProcessStack(LOG_LEVEL="INFO", OFFLINE_TOKEN_DELAY_MS="0")
    stack.quiet = False
    stack.start()
    yield stack
    stack.stop()


def connected(stack: InProcessStack, sub: str) -> tuple[Client, str]:
    """A customer's open WebSocket and its connection id."""
    before = set(stack.stack.websocket.clients.open)
    client = Client(connect(stack.ws_url(stack.token(sub)), open_timeout=10))
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"
    (connection_id,) = set(stack.stack.websocket.clients.open) - before
    return client, connection_id


def call(stack: InProcessStack, method: str, connection_id: str, headers: dict[str, str], body: bytes | None = None):
    """One HTTP request to the stack's @connections API: (status, headers, body)."""
    url = f"{stack.base}/local/@connections/{urllib.parse.quote(connection_id, safe='')}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_without_the_stacks_key_nothing_reaches_or_describes_or_closes_a_connection(inproc):
    # Given a customer's open chat, and someone who learnt its connection id
    client, connection_id = connected(inproc, "c-target")
    text_plain = {"Content-Type": "text/plain"}

    # When they post a forged operator message cross-site (a form's text/plain POST, with an Origin, a null one or
    # none), read the connection's address, close it, or try other methods; without the key or with a guessed one
    attempts = [
        ("POST", {**text_plain, "Origin": "https://evil.example"}, PHISHING.encode()),
        ("POST", {**text_plain, "Origin": "null"}, PHISHING.encode()),
        ("POST", text_plain, PHISHING.encode()),
        ("POST", {**text_plain, INVOKE_KEY_HEADER: "guess"}, PHISHING.encode()),
        ("GET", {}, None),
        ("DELETE", {}, None),
        ("PUT", text_plain, PHISHING.encode()),
        ("PATCH", text_plain, PHISHING.encode()),
    ]
    answers = [call(inproc, method, connection_id, headers, body) for method, headers, body in attempts]

    # Then every one is refused, and tells nothing about the client
    assert [status for status, _, _ in answers] == [403] * len(attempts)
    assert all(b"SourceIp" not in body and b"evil.example" not in body for _, _, body in answers)

    # And the customer's socket is still open and received none of it
    assert client.quiet(0.5) == []
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"
    client.close()


def test_with_the_key_only_get_post_and_delete_are_answered_and_other_methods_leave_the_socket_open(inproc):
    # Given a customer's open chat, and a caller holding the stack's key
    client, connection_id = connected(inproc, "c-methods")
    key = {INVOKE_KEY_HEADER: inproc.stack.invoke_key}

    # When it tries methods the @connections API does not have
    for method in ("PUT", "PATCH", "OPTIONS"):
        status, headers, _ = call(inproc, method, connection_id, key, b"{}" if method != "OPTIONS" else None)

        # Then each is 405 naming the three it has, and the socket stays open
        assert (status, headers.get("Allow")) == (405, "DELETE, GET, POST"), method
    client.send({"type": "ping"})
    assert client.recv()["type"] == "pong"

    # And GET describes the connection, POST reaches the client, DELETE closes it
    status, _, body = call(inproc, "GET", connection_id, key)
    assert status == 200 and "Identity" in json.loads(body)
    assert call(inproc, "POST", connection_id, key, b'{"type": "status", "status": "idle"}')[0] == 200
    assert client.recv() == {"type": "status", "status": "idle"}
    assert call(inproc, "DELETE", connection_id, key)[0] == 204
    deadline = time.monotonic() + 10
    while connection_id in inproc.stack.websocket.clients.open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connection_id not in inproc.stack.websocket.clients.open


def test_the_functions_still_stream_a_turn_through_it(inproc):
    # Given a customer's open chat
    client, _ = connected(inproc, "demo-customer")

    # When a turn runs (the agent's tokens reach the client through the @connections API)
    events = client.ask("t-connections-api", "What is the status of order 1042?")

    # Then the whole answer arrives
    assert events[-1]["type"] == "message_complete"
    assert any(e["type"] == "token" for e in events)
    client.close()


@contextlib.contextmanager
def function_logs(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What the functions' Powertools loggers write meanwhile, at `level` (they share the service's logger, set up
    by whichever function of this test process loaded first)."""
    service = logging.getLogger("smart-support")
    handlers = [cast(logging.StreamHandler[Any], h) for h in service.handlers]
    buffer, saved_level = io.StringIO(), service.level
    streams = [handler.setStream(buffer) for handler in handlers]
    service.setLevel(level)
    try:
        yield buffer
    finally:
        service.setLevel(saved_level)
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream or sys.stdout)


def test_connection_ids_are_not_logged_at_info(inproc, capsys):
    # Given a stack logging at INFO (its request log, and the functions' own logs)
    with function_logs() as functions_logged:
        # When a customer connects, chats, and leaves
        client, connection_id = connected(inproc, "demo-customer")
        assert client.ask("t-connections-log", "Hello")[-1]["type"] == "message_complete"
        client.close()
        deadline = time.monotonic() + 10
        while connection_id in inproc.stack.websocket.clients.open and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the $disconnect route runs after the socket closed

    # Then the logs have their lines, but not the connection id (an address to post to)
    logged = capsys.readouterr().out + functions_logged.getvalue()
    assert "$connect" in logged and "$disconnect" in logged and '"connected"' in logged and '"disconnected"' in logged
    assert connection_id not in logged
