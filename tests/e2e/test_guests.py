"""Guests of the web chat: each browser its own customer, minted and seeded by the local stack (ALLOW_ANONYMOUS)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.e2e.conftest import Stack, new_thread, start_stack, tokens

pytestmark = pytest.mark.e2e
GUEST_PATH = "/_local/guest"


@pytest.fixture(scope="module")
def guests(tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own (its guests take the demo orders), with the frame limit at its default."""
    yield from start_stack(tmp_path_factory, "guests", RATE_LIMIT_FRAMES_PER_SECOND="10")


def mint(stack: Stack, held: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST /_local/guest (renewing `held`, a token, when given): (status, body)."""
    request = urllib.request.Request(f"{stack.base}{GUEST_PATH}", data=b"", method="POST", headers=headers or {})
    if held:
        request.add_header("Authorization", f"Bearer {held}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def guest(stack: Stack, held: str | None = None) -> tuple[str, dict[str, Any]]:
    """A guest token from the stack, and its verified claims."""
    status, body = mint(stack, held)
    assert status == 200, body
    claims = jwt.decode(body["token"], stack.secret, algorithms=["HS256"])
    assert body["sub"] == claims["sub"]
    return body["token"], claims


def test_each_browser_gets_a_guest_of_its_own_that_renewing_keeps(guests):
    # Given two browsers without a token of their own
    # When each asks the stack for a guest token
    first, first_claims = guest(guests)
    _, second_claims = guest(guests)

    # Then each is a customer of its own, short-lived
    assert first_claims["sub"] != second_claims["sub"]
    for claims in (first_claims, second_claims):
        assert claims["sub"].startswith("guest-") and claims["role"] == "customer"
        assert claims["exp"] - claims["iat"] == 3600

    # And renewing a guest token keeps the guest, while any other token (or none valid) gets a new guest
    assert guest(guests, first)[1]["sub"] == first_claims["sub"]
    for other in (guests.token("c-2001"), guests.token("op-1", "operator"), "not-a-token"):
        assert guest(guests, other)[1]["sub"] not in ("c-2001", "op-1", first_claims["sub"])
    expired = guests.token(first_claims["sub"], ttl_seconds=1, now=first_claims["iat"] - 3600)
    assert guest(guests, expired)[1]["sub"] != first_claims["sub"]


def test_a_guest_chats_about_the_demo_orders_and_sees_only_its_own_threads(guests):
    # Given a guest who asks the chat's first suggestion
    first, _ = guest(guests)
    first_thread = new_thread("guest")
    with guests.ws(first) as client:
        events = client.ask(first_thread, "What is the status of order 1042?")
    # Then the demo order is its own
    assert events[-1]["type"] == "message_complete"
    assert "shipped" in tokens(events)

    # When another browser's guest does the same
    second, _ = guest(guests)
    second_thread = new_thread("guest")
    with guests.ws(second) as client:
        events = client.ask(second_thread, "What is the status of order 1042?")
    assert "shipped" in tokens(events)

    # Then neither sees the other's conversation
    first_sessions = {s["thread_id"] for s in guests.http("GET", "/api/v1/sessions", first)[1]["sessions"]}
    second_sessions = {s["thread_id"] for s in guests.http("GET", "/api/v1/sessions", second)[1]["sessions"]}
    assert first_thread in first_sessions and second_thread not in first_sessions
    assert second_thread in second_sessions and first_thread not in second_sessions
    assert guests.http("GET", f"/api/v1/sessions/{first_thread}", second)[0] == 404


def test_each_guest_has_its_own_rate_bucket(guests):
    # Given two guests, one of them flooding the stack with pings
    flooder, _ = guest(guests)
    neighbour, _ = guest(guests)
    with guests.ws(flooder) as noisy, guests.ws(neighbour) as calm:
        for _ in range(40):
            noisy.send({"type": "ping"})
        codes = [noisy.recv().get("code") for _ in range(40)]

        # Then the flooder is slowed down, and the other guest is not
        assert "rate_limited" in codes
        for _ in range(3):
            calm.send({"type": "ping"})
            assert calm.recv() == {"type": "pong"}


def test_guest_tokens_only_for_the_stacks_own_pages_and_only_with_anonymous_access(guests, short_stack):
    # A page on another site cannot mint one (nor read it: no CORS grant)
    status, _ = mint(guests, headers={"Origin": "https://evil.example"})
    assert status == 403
    assert mint(guests, headers={"Origin": guests.base})[0] == 200

    # The pages learn where from config.json, which names it only where anonymous access is on
    assert guests.http("GET", "/config.json")[1]["guestUrl"] == GUEST_PATH
    assert "guestUrl" not in short_stack.http("GET", "/config.json")[1]
    assert mint(short_stack)[0] == 403
