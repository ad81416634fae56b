"""The HTTP API over the local stack: OpenAPI, session state, replay, analytics, error envelope."""

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import new_thread


def test_openapi_document_lists_the_routes(stack):
    status, doc = stack.http("GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/health",
        "/api/v1/sessions/{thread_id}",
        "/api/v1/sessions/{thread_id}/messages",
        "/api/v1/approvals",
        "/api/v1/approvals/{interrupt_id}",
        "/api/v1/analytics",
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/sessions/{thread_id}/takeover",
        "/api/v1/sessions/{thread_id}/release",
    ):
        assert path in doc["paths"], path
    # the hand-off routes document their bodies and their 409
    assert set(doc["paths"]["/api/v1/sessions/{thread_id}/messages"]) == {"get", "post"}
    takeover = doc["paths"]["/api/v1/sessions/{thread_id}/takeover"]["post"]
    assert {"200", "401", "403", "404", "409", "410"} <= set(takeover["responses"])
    assert "Takeover" in str(takeover["responses"]["200"])
    status, page = stack.http("GET", "/api/v1/docs")
    assert status == 200 and "swagger" in page.lower()


def test_session_state_and_ordered_replay(stack):
    token = stack.token("demo-customer")
    thread = new_thread("replay")
    with stack.ws(token) as client:
        client.ask(thread, "What is the status of order 1042?")
        client.ask(thread, "When will it arrive?")
    status, session = stack.http("GET", f"/api/v1/sessions/{thread}", token)
    assert status == 200 and session["status"] == "idle" and session["turns"] == 2
    assert session["pending_interrupt"] is None and session["expires_at"].endswith("Z")
    listed = stack.http("GET", "/api/v1/sessions", token)[1]["sessions"]
    assert next(s for s in listed if s["thread_id"] == thread)["title"] == "What is the status of order 1042?"
    status, replay = stack.http("GET", f"/api/v1/sessions/{thread}/messages", token)
    assert status == 200
    roles = [(m["turn"], m["role"]) for m in replay["messages"]]
    assert roles == [(1, "user"), (1, "assistant"), (2, "user"), (2, "assistant")]
    first_answer = replay["messages"][1]
    assert first_answer["agent"] == "order_status" and "shipped" in first_answer["content"].lower()
    assert first_answer["tool_calls"][0] == {"tool": "get_order_status", "args": {"order_id": "1042"}}
    assert "2026-11-28" in replay["messages"][3]["content"]
    assert all(m["at"].endswith("Z") for m in replay["messages"])
    assert replay["next_cursor"] is None

    # Paginated: 3 entries, then the rest from next_cursor
    status, first = stack.http("GET", f"/api/v1/sessions/{thread}/messages?limit=3", token)
    assert status == 200 and len(first["messages"]) == 3 and first["next_cursor"]
    status, rest = stack.http("GET", f"/api/v1/sessions/{thread}/messages?limit=3&cursor={first['next_cursor']}", token)
    assert status == 200 and rest["messages"] == replay["messages"][3:] and rest["next_cursor"] is None
    for query in ("limit=0", "limit=201", "cursor=forged"):
        status, body = stack.http("GET", f"/api/v1/sessions/{thread}/messages?{query}", token)
        assert status == 422 and body["error"]["code"] == "validation_error", query


def test_requests_at_the_same_moment_each_get_their_own_answer(stack):
    # A page that loads its thread list and a transcript at once (the web chat after a reload)
    token = stack.token("c-concurrent")
    thread = new_thread("together")
    with stack.ws(token) as client:
        client.ask(thread, "What is the status of order 1042?")
    paths = [f"/api/v1/sessions/{thread}/messages", "/api/v1/sessions", f"/api/v1/sessions/{thread}"] * 8
    with ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(lambda path: (path, *stack.http("GET", path, token)), paths))
    for path, status, body in answers:
        assert status == 200, (path, body)
        if path.endswith("/messages"):
            assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
        elif path.endswith("/sessions"):
            assert [s["thread_id"] for s in body["sessions"]] == [thread]
        else:
            assert body["thread_id"] == thread and body["turns"] == 1


def test_analytics_counts_turns_and_tools(stack):
    operator = stack.token("op", "operator")
    before = stack.http("GET", "/api/v1/analytics", operator)[1]
    with stack.ws() as client:
        client.ask(new_thread(), "What is the status of order 1042?")
    after = stack.http("GET", "/api/v1/analytics", operator)[1]
    assert after["turns"] == before["turns"] + 1
    assert after["sessions"] == before["sessions"] + 1
    assert after["tool_usage"]["get_order_status"] == before["tool_usage"].get("get_order_status", 0) + 1
    assert (
        after["turn_latency_ms"]["p50"] is not None
        and after["turn_latency_ms"]["p95"] >= after["turn_latency_ms"]["p50"]
    )


def test_unknown_route_and_bad_thread_id_use_the_error_envelope(stack):
    status, body = stack.http("GET", "/api/v1/nope", stack.token())
    assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["request_id"]
    status, body = stack.http("GET", "/api/v1/sessions/bad%20id", stack.token())
    assert status == 422 and body["error"]["code"] == "validation_error"


def test_escalation_creates_a_ticket_operators_can_list(stack):
    operator = stack.token("op", "operator")
    thread = new_thread("human")
    with stack.ws() as client:
        events = client.ask(thread, "I want to talk to a human")
        assert any(e["type"] == "tool_call" and e["tool"] == "escalate_to_human" for e in events)
        assert events[-1]["type"] == "message_complete"
    tickets = stack.http("GET", "/api/v1/tickets", operator)[1]["tickets"]
    assert any(t["thread_id"] == thread for t in tickets)
