"""A socket outlives its token in API Gateway (the authorizer runs once, at $connect); its frames and watches do not
(issue 28, item 8). Over the real stack."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import Stack, new_thread

pytestmark = pytest.mark.e2e


def test_a_frame_after_the_token_expired_gets_token_expired_and_the_socket_closes(stack: Stack):
    # Given a customer socket opened with a token that lives 3 seconds
    with stack.ws(stack.token("c-short-lived", ttl_seconds=3)) as client:
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}

        # When the token has expired and the client sends a frame
        time.sleep(3.5)
        client.send({"type": "ping"})

        # Then it is told why, and the socket is closed
        error = client.recv()
        assert (error["type"], error["code"]) == ("error", "token_expired")
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=5)


def test_a_watch_lapses_with_the_operators_token(stack: Stack):
    # Given a customer's conversation, and an operator socket whose token lives 4 seconds watching it
    thread = new_thread("expiry")
    with stack.ws(stack.token("c-watched")) as customer:
        assert customer.ask(thread, "Hello")[-1]["type"] == "message_complete"
        with stack.ws(stack.token("op-brief", "operator", ttl_seconds=4)) as operator:
            operator.send({"type": "watch", "thread_id": thread})
            assert operator.recv()["type"] == "status"
            # A turn while the token is valid reaches the operator
            customer.ask(thread, "What is the status of order 1042?")
            seen = operator.quiet(1.0)
            assert any(e["type"] == "message_complete" for e in seen)

            # When the token has expired and the customer asks again
            time.sleep(4.5)
            assert customer.ask(thread, "Thanks")[-1]["type"] == "message_complete"

            # Then nothing of that turn reaches the operator's socket
            assert operator.quiet(1.5) == []
