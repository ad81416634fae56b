"""Fuzzing: the frame parser, the running stack's WebSocket and its HTTP API never fail in an unplanned way."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smart_support.protocol.errors import SupportError
from smart_support.protocol.frames import FRAME_TYPES, parse_frame
from smart_support.protocol.types import MAX_FRAME_BYTES

pytestmark = pytest.mark.e2e

DOCUMENTED_CODES = {
    "message_too_large",
    "invalid_json",
    "unknown_type",
    "validation_error",
    "session_expired",
    "thread_busy",
    "no_pending_interrupt",
    "approval_expired",
    "not_found",
    "unauthorized",
    "forbidden",
}
TURN_EVENTS = {"tool_call", "token", "interrupt", "interrupt_resolved", "message_complete", "status"}
ONLINE = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
thread_ids = st.one_of(st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True), st.text(max_size=140), json_values)
frame_dicts = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from([*FRAME_TYPES, "$default", "Message", ""]), json_values)},
    optional={
        "thread_id": thread_ids,
        "content": st.one_of(st.text(max_size=300), json_values),
        "approved": st.one_of(st.booleans(), json_values),
        "comment": st.one_of(st.text(max_size=50), json_values),
        "message_id": st.one_of(thread_ids, json_values),
    },
).map(lambda d: {k: v for k, v in d.items()})
raw_frames = st.one_of(
    frame_dicts.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
)


# ---------------------------------------------------------------- the parser (no I/O: many examples)


@settings(max_examples=400, deadline=None)
@given(st.one_of(raw_frames, st.binary(max_size=300), st.none()))
def test_parse_frame_raises_only_support_errors(body):
    try:
        frame = parse_frame(body)
    except SupportError as exc:
        assert exc.code in DOCUMENTED_CODES
        assert exc.message
    else:
        assert frame.type in FRAME_TYPES


def test_parse_frame_checks_size_before_anything_else():
    with pytest.raises(SupportError) as raised:
        parse_frame("{" * (MAX_FRAME_BYTES + 1))
    assert raised.value.code == "message_too_large" and "too large" in raised.value.message


# ---------------------------------------------------------------- the WebSocket of the running stack


@pytest.fixture(scope="module")
def fuzz_client(fault_stack):
    with fault_stack.ws(fault_stack.token("c-fuzz")) as client:
        yield client


def read_until_pong(client) -> list[dict[str, Any]]:
    """Events up to a pong, plus stragglers: frames are handled concurrently, so replies may pass the pong."""
    client.send({"type": "ping"})
    return client.until(lambda e: e["type"] == "pong", timeout=30) + client.quiet(0.1)


@ONLINE
@given(raw_frames)
def test_random_frames_get_an_error_a_pong_or_nothing(fuzz_client, frame):
    # When any frame arrives
    fuzz_client.send(frame)
    # Then what comes back before the next pong is a documented error, a pong, or a turn the frame started;
    # the connection stays open and usable
    for event in read_until_pong(fuzz_client):
        kind = event.get("type")
        if kind == "error":
            assert event["code"] in DOCUMENTED_CODES, event
            assert event["message"]
        else:
            assert kind in {"pong", *TURN_EVENTS}, event
            assert "Internal server error" not in json.dumps(event)


def test_oversize_frame_is_refused_and_the_connection_stays_usable(fault_stack):
    with fault_stack.ws(fault_stack.token("c-fuzz")) as client:
        client.send(json.dumps({"type": "message", "thread_id": "fuzz", "content": "x" * (MAX_FRAME_BYTES + 10)}))
        error = client.recv()
        assert error["code"] == "message_too_large" and "too large" in error["message"]
        assert read_until_pong(client) == [{"type": "pong"}]


# ---------------------------------------------------------------- the HTTP API of the running stack

segments = st.one_of(
    st.sampled_from(
        [
            "sessions",
            "approvals",
            "analytics",
            "audit",
            "health",
            "openapi.json",
            "docs",
            "messages",
            "..",
            "%00",
            "x" * 200,
        ]
    ),
    st.text(min_size=1, max_size=30),
)


@ONLINE
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.lists(segments, min_size=0, max_size=4),
    query=st.dictionaries(st.sampled_from(["status", "limit", "cursor", "x"]), st.text(max_size=20), max_size=2),
    auth=st.sampled_from(["none", "garbage", "customer", "operator", "expired"]),
    body=st.one_of(
        st.none(), json_values, st.fixed_dictionaries({"approved": json_values}, optional={"comment": json_values})
    ),
)
def test_http_api_never_answers_5xx(fault_stack, method, path, query, auth, body):
    token = {
        "none": None,
        "garbage": "not.a.jwt",
        "customer": fault_stack.token("c-fuzz"),
        "operator": fault_stack.token("ops-fuzz", "operator"),
        "expired": fault_stack.token("c-fuzz", ttl_seconds=-60),
    }[auth]
    url = "/api/v1/" + "/".join(urllib.parse.quote(s, safe="") for s in path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    status, response = fault_stack.http(method, url, token, body)
    assert status < 500, (method, url, auth, body, status, response)
    if status >= 400 and isinstance(response, dict) and "error" in response:
        assert response["error"]["code"] and response["error"]["message"]
