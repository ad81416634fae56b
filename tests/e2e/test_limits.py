"""Abuse limits over the real stack: rate_limited frames and turns (connection kept), size limits never a 5xx."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import Stack, new_thread, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[Stack]:
    """A stack with the limits low enough to reach: 5 frames a second, 3 turns a minute."""
    yield from start_stack(
        tmp_path_factory, "limits", RATE_LIMIT_FRAMES_PER_SECOND="5", RATE_LIMIT_TURNS_PER_MINUTE="3"
    )


def test_too_many_frames_are_rate_limited_and_the_connection_stays(limited):
    with limited.ws(limited.token("c-fast")) as client:
        for _ in range(12):
            client.send({"type": "ping"})
        replies = [client.recv() for _ in range(12)]
        limited_replies = [r for r in replies if r["type"] == "error"]
        assert limited_replies and all(r["code"] == "rate_limited" for r in limited_replies)
        assert "slow down" in limited_replies[0]["message"]
        assert sum(r["type"] == "pong" for r in replies) >= 5
        # A moment later the same connection works again
        client.quiet(1.2)
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}


def test_too_many_turns_in_a_minute_are_rate_limited(limited):
    with limited.ws(limited.token("c-chatty")) as client:
        for n in range(3):
            assert client.ask(new_thread(f"turn{n}"), "Hello")[-1]["type"] == "message_complete"
        refused = client.ask(new_thread("turn3"), "Hello")[-1]
        assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    # Another principal is not affected
    with limited.ws(limited.token("c-calm")) as client:
        assert client.ask(new_thread("calm"), "Hello")[-1]["type"] == "message_complete"


def test_http_requests_are_rate_limited_per_principal(limited):
    token = limited.token("c-http")
    statuses = [limited.http("GET", "/api/v1/sessions", token)[0] for _ in range(12)]
    assert 429 in statuses and statuses.count(200) >= 5
    status, body = limited.http("GET", "/api/v1/sessions", token)
    if status == 429:
        assert body["error"]["code"] == "rate_limited"


def test_oversize_bodies_and_ids_are_4xx_not_500(limited):
    operator = limited.token("ops-size", "operator")
    status, body = limited.http(
        "POST", "/api/v1/approvals/abc", operator, {"approved": True, "comment": "x" * 6_000_000}
    )
    assert status == 413 and body["error"]["code"] == "message_too_large"
    status, body = limited.http("POST", f"/api/v1/approvals/{'i' * 5000}", operator, {"approved": True})
    assert status in (404, 422) and "error" in body
    with limited.ws(limited.token("c-size")) as client:
        client.send({"type": "interrupt_response", "thread_id": "t", "interrupt_id": "i" * 5000, "approved": True})
        error = client.recv()
        assert error["code"] == "validation_error" and "interrupt_id" in error["message"]


def test_malformed_frames_pay_their_rate_limit_first(limited):
    # Given frames that fail to parse, lack fields, or name no route: each is an invocation someone pays for
    malformed = ["not json", '{"type": "message"}', '{"type": "bogus"}', "[]"] * 3
    with limited.ws(limited.token("c-junk")) as client:
        # When they come faster than the 5 frames a second a principal may send
        for frame in malformed:
            client.send(frame)
        replies = [client.recv() for _ in malformed]
        # Then some are refused as rate_limited before anything parses them, the rest as what they are
        codes = [r.get("code") for r in replies]
        assert "rate_limited" in codes
        assert set(codes) - {"rate_limited"} <= {"invalid_json", "validation_error", "unknown_type", "invalid_frame"}
        # And the connection is still usable a moment later
        client.quiet(1.2)
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}


def test_refused_http_requests_pay_first(limited):
    # Given requests with a token the authorizer refuses: they count against their source address
    statuses = [limited.http("GET", "/api/v1/sessions", "not-a-token")[0] for _ in range(12)]
    assert 429 in statuses and set(statuses) <= {401, 429}
    # And oversize bodies count against the caller that sends them
    operator = limited.token("ops-flood", "operator")
    big = {"approved": True, "comment": "x" * 70_000}
    statuses = [limited.http("POST", "/api/v1/approvals/abc", operator, big)[0] for _ in range(12)]
    assert 429 in statuses and set(statuses) <= {413, 429}


def test_a_body_nested_thousands_deep_is_a_400_not_a_500(limited):
    operator = limited.token("ops-deep", "operator")
    deep = '{"approved": true, "comment": ' + "[" * 20_000 + "]" * 20_000 + "}"
    request = urllib.request.Request(f"{limited.base}/api/v1/approvals/abc", data=deep.encode(), method="POST")
    request.add_header("Authorization", f"Bearer {operator}")
    request.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=15)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["error"]["code"] == "invalid_json"
    # And the same caller's next request is served as usual
    assert limited.http("GET", "/api/v1/approvals", operator)[0] == 200


def test_a_frame_nested_twelve_thousand_deep_gets_invalid_json_and_the_connection_stays(limited):
    # Given a 24 KB frame nested 12,000 deep (under the 32 KB frame limit): too deep for a route to be selected
    deep = "[" * 12_000 + "]" * 12_000
    with limited.ws(limited.token("c-deep")) as client:
        # When it is sent, as an array and inside an object
        for frame in (deep, '{"type": "message", "content": ' + deep + "}"):
            client.send(frame)

            # Then the answer is invalid_json, not silence
            reply = client.recv(timeout=10)
            assert reply["type"] == "error" and reply["code"] == "invalid_json", reply
            assert "Invalid JSON" in reply["message"]

        # And the connection is still usable
        client.send({"type": "ping"})
        assert client.recv() == {"type": "pong"}


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory) -> Iterator[Stack]:
    """A stack whose WebSocket connections live 2 seconds instead of API Gateway's 2 hours."""
    yield from start_stack(tmp_path_factory, "short-lived", WEBSOCKET_MAX_CONNECTION_SECONDS="2")


def test_a_connection_is_closed_at_its_maximum_duration_even_while_active(short_lived):
    # Given a client that keeps its connection busy (never idle)
    with short_lived.ws(short_lived.token("c-long")) as client:
        opened = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - opened < 10:
                client.send({"type": "ping"})
                assert client.recv(timeout=2) == {"type": "pong"}
                time.sleep(0.2)

        # Then the stack closes it at the maximum duration, with API Gateway's close code (1001, going away)
        assert 1.8 <= time.monotonic() - opened < 5
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001

    # And the client may connect again at once
    with short_lived.ws(short_lived.token("c-long")) as again:
        again.send({"type": "ping"})
        assert again.recv() == {"type": "pong"}
