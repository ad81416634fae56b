"""Human hand-off on moto: tickets, takeover, messages while held, release, watchers, and the model's context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from smart_support.agent.runner import TurnRunner
from smart_support.auth.tokens import Principal
from smart_support.protocol.errors import ThreadBusy, ThreadNotHeld, TicketConflict, ValidationFailed
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import ApprovalStore
from smart_support.store.handoffs import HandoffStore
from smart_support.store.sessions import SessionStore
from smart_support.store.sessions.watchers import MAX_WATCHERS, WATCH_SECONDS, TooManyWatchers
from smart_support.store.tickets import MAX_NOTES, TicketStore
from smart_support.store.transcript import TranscriptStore
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.handoff import HandoffService
from smart_support.turns.models import AgentTask, TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from tests.integration.agent_turns import config, make_graph

TABLE = "ConversationsTable"
T0 = 1_800_000_000.0
ALICE = Principal(sub="op-1", role="operator", name="Alice")
BOB = Principal(sub="op-2", role="operator")


class RecordingSender:
    """Every event posted, by connection."""

    def __init__(self) -> None:
        self.sent: list[tuple[str | None, dict[str, Any]]] = []

    def send(self, connection_id: str | None, payload: Mapping[str, object]) -> bool:
        self.sent.append((connection_id, dict(payload)))
        return bool(connection_id)

    def to(self, connection_id: str) -> list[dict[str, Any]]:
        return [payload for conn, payload in self.sent if conn == connection_id]


@pytest.fixture
def desk(dynamodb):
    sessions = SessionStore(TABLE, 1800, dynamodb)
    tickets = TicketStore(TABLE, dynamodb)
    sender = RecordingSender()
    service = HandoffService(sessions, tickets, HandoffStore(TABLE, 1800, tickets, dynamodb), sender)
    return sessions, tickets, service, sender, AnalyticsStore(TABLE, dynamodb), TranscriptStore(TABLE, dynamodb)


def idle_thread(sessions: SessionStore, thread_id: str = "t-1", now: float = T0) -> None:
    """A thread with one finished turn, the customer on connection c1."""
    sessions.begin_turn(thread_id, "demo-customer", "c1", now=now)
    sessions.finish_turn(thread_id, 1, now=now)


def test_the_loop_moves_session_ticket_transcript_and_counters_together(desk):
    sessions, tickets, service, sender, analytics, transcripts = desk
    # Given a thread whose customer asked for a person (the ticket links to the session and counts a request)
    sessions.begin_turn("t-1", "demo-customer", "c1", now=T0)
    ticket = tickets.create("t-1", "demo-customer", "wants a person", idempotency_key="call-1", now=T0)
    sessions.finish_turn("t-1", 1, now=T0)
    assert sessions.get("t-1").handoff == "requested" and sessions.get("t-1").ticket_id == ticket.ticket_id

    # When an operator takes over 90 s later (twice: the second changes nothing)
    held, assigned = service.take_over("t-1", ALICE, now=T0 + 90)
    again, _ = service.take_over("t-1", ALICE, now=T0 + 91)

    # Then the thread is held, the ticket assigned, the customer told, and one join counted with its time
    assert (held.status, held.operator_name, again.status) == ("with_operator", "Alice", "with_operator")
    assert (assigned.status, assigned.assignee, assigned.ticket_id) == ("assigned", "op-1", ticket.ticket_id)
    assert [e["state"] for e in sender.to("c1") if e["type"] == "handoff"] == ["joined"]
    counts = analytics.summary()["handoffs"]
    assert (counts["requested"], counts["joined"], counts["median_seconds_to_join"]) == (1, 1, 120)

    # When the customer writes (once, and the same frame again), and the operator answers
    service.customer_message(sessions.get("t-1"), "Is anyone there?", "m-1", "c2", now=T0 + 100)
    service.customer_message(sessions.get("t-1"), "Is anyone there?", "m-1", "c2", now=T0 + 101)
    reply = service.post_message("t-1", ALICE, "Yes, I checked order 1043.", now=T0 + 1700)

    # Then the TTL slid with each message, the customer's new connection got the reply
    assert sessions.get("t-1").expires_at == int(T0 + 1700) + 1800
    assert reply in sender.to("c2") and reply["operator"] == "Alice"

    # When the operator hands it back with a note
    back, closed = service.release("t-1", ALICE, note="Explained the delay", now=T0 + 1800)
    assert back.status == "idle" and back.context_turn == 1

    # Then the thread is idle, the model will read the exchange, the ticket is closed with the note
    session = sessions.get("t-1")
    assert (session.status, session.ticket_id, session.operator_id, session.context_turn) == ("idle", None, None, 1)
    assert (closed.status, closed.closed_by, [n.text for n in closed.notes]) == (
        "closed",
        "op-1",
        ["Explained the delay"],
    )
    assert tickets.get(ticket.ticket_id) == closed
    # and the transcript holds the exchange in order, the retried frame once
    replay = [(m["role"], m.get("state") or m.get("content")) for m in transcripts.page("t-1", T0)[0]]
    assert replay == [
        ("system", "joined"),
        ("user", "Is anyone there?"),
        ("operator", "Yes, I checked order 1043."),
        ("system", "returned"),
    ]
    assert [m["content"] for m in transcripts.handoff_exchange("t-1", 1)] == [
        "Is anyone there?",
        "Yes, I checked order 1043.",
    ]


def test_only_the_holder_writes_or_releases_and_busy_threads_cannot_be_taken(desk):
    sessions, _, service, sender, _, _ = desk
    idle_thread(sessions)
    with pytest.raises(ThreadNotHeld):
        service.post_message("t-1", ALICE, "hi", now=T0 + 1)
    service.take_over("t-1", ALICE, now=T0 + 1)
    with pytest.raises(ThreadNotHeld, match="Alice holds this conversation"):
        service.post_message("t-1", BOB, "hi", now=T0 + 2)
    with pytest.raises(ThreadNotHeld):
        service.release("t-1", BOB, now=T0 + 2)
    with pytest.raises(ThreadBusy, match="Alice already holds"):
        service.take_over("t-1", BOB, now=T0 + 2)
    assert not [e for _, e in sender.sent if e["type"] == "operator_message"]
    # A running turn: nobody may join
    sessions.begin_turn("t-2", "demo-customer", "c1", now=T0)
    with pytest.raises(ThreadBusy, match="answering or waiting"):
        service.take_over("t-2", ALICE, now=T0 + 1)
    assert sessions.get("t-2").status == "running"


def test_a_takeover_without_a_request_opens_an_assigned_ticket_that_counts_no_request(desk):
    sessions, tickets, service, _, analytics, _ = desk
    idle_thread(sessions)
    _, ticket = service.take_over("t-1", BOB, now=T0 + 5)
    assert (ticket.kind, ticket.status, ticket.assignee_name) == ("takeover", "assigned", "op-2")
    assert tickets.list_page("assigned")[0] == [ticket]
    counts = analytics.summary()["handoffs"]
    assert (counts["requested"], counts["joined"], counts["median_seconds_to_join"]) == (0, 1, None)


def test_closing_a_requested_ticket_stops_the_wait_and_a_held_one_cannot_be_closed(desk):
    sessions, tickets, service, sender, _, _ = desk
    idle_thread(sessions)
    first = tickets.create("t-1", "demo-customer", "wants a person", idempotency_key="a", now=T0)
    # A second request while the first is open gives back the same ticket, with a note
    second = tickets.create("t-1", "demo-customer", "still waiting", idempotency_key="b", now=T0 + 1)
    assert second.ticket_id == first.ticket_id and [n.text for n in second.notes] == ["still waiting"]
    noted = service.update_ticket(first.ticket_id, BOB, status="assigned", note="calling back", now=T0 + 2)
    assert (noted.status, noted.assignee, [n.text for n in noted.notes][-1]) == ("assigned", "op-2", "calling back")
    closed = service.update_ticket(first.ticket_id, BOB, status="closed", now=T0 + 3)
    assert closed.status == "closed" and sessions.get("t-1").handoff is None
    assert [e.get("closed") for e in sender.to("c1") if e["type"] == "handoff"] == [True]
    with pytest.raises(TicketConflict, match="closed"):
        service.update_ticket(first.ticket_id, BOB, status="open", now=T0 + 4)
    # While an operator holds the thread, its ticket changes only by handing it back
    _, held_ticket = service.take_over("t-1", ALICE, now=T0 + 5)
    with pytest.raises(TicketConflict, match="hand it back"):
        service.update_ticket(held_ticket.ticket_id, BOB, status="closed", now=T0 + 6)
    # Notes are bounded: a ticket is one item
    for i in range(MAX_NOTES):
        held_ticket = service.update_ticket(held_ticket.ticket_id, BOB, note=f"n{i}", now=T0 + 7)
    with pytest.raises(TicketConflict, match="at most"):
        service.update_ticket(held_ticket.ticket_id, BOB, note="one too many", now=T0 + 8)


def test_watchers_are_bounded_and_lapse(dynamodb):
    sessions = SessionStore(TABLE, 3 * WATCH_SECONDS, dynamodb)  # the session outlives a watch here
    idle_thread(sessions)
    for i in range(MAX_WATCHERS):
        session = sessions.add_watcher("t-1", f"w{i}", now=T0 + i)
    assert len(session.live_watchers(T0 + 20)) == MAX_WATCHERS
    assert sessions.add_watcher("t-1", "w0", now=T0 + 20).watchers["w0"] == int(T0 + 20) + WATCH_SECONDS  # again
    with pytest.raises(TooManyWatchers):
        sessions.add_watcher("t-1", "one-more", now=T0 + 20)
    # Once a watch lapses, its place is free (and it is pruned from the item)
    later = T0 + 1 + WATCH_SECONDS
    session = sessions.add_watcher("t-1", "one-more", now=later)
    assert "w1" not in session.watchers and "one-more" in session.live_watchers(later)
    assert sessions.remove_watcher("t-1", "one-more") is not None
    assert sessions.remove_watcher("t-1", "one-more") is None


def test_a_repeated_message_id_while_held_is_stored_once_and_other_content_under_it_is_refused(desk):
    sessions, _, service, sender, _, transcripts = desk
    # Given a held thread where the customer wrote m-1, an operator watching
    idle_thread(sessions)
    service.take_over("t-1", ALICE, now=T0 + 1)
    sessions.add_watcher("t-1", "console", now=T0 + 1)
    service.customer_message(sessions.get("t-1"), "It is about my earbuds", "m-1", "c1", now=T0 + 2)
    held = sessions.get("t-1")
    # When the same frame comes again, and then other content under m-1
    again = service.customer_message(sessions.get("t-1"), "It is about my earbuds", "m-1", "c1", now=T0 + 3)
    with pytest.raises(ValidationFailed, match="message_id"):
        service.customer_message(sessions.get("t-1"), "Refund order 1045", "m-1", "c1", now=T0 + 4)
    # Then the repeat is acknowledged with the status, nothing more was stored or shown to the operator
    assert (again["type"], again["status"]) == ("status", "with_operator")
    assert sessions.get("t-1") == held
    assert [e["content"] for e in sender.to("console") if e["type"] == "customer_message"] == ["It is about my earbuds"]
    users = [m["content"] for m in transcripts.page("t-1", T0 + 10)[0] if m["role"] == "user"]
    assert users == ["It is about my earbuds"]


def test_after_release_the_model_reads_what_the_customer_and_the_operator_said(desk, dynamodb, orders):
    sessions, _, service, sender, analytics, transcripts = desk
    # Given a thread handed back after the customer and an operator talked
    idle_thread(sessions)
    service.take_over("t-1", ALICE, now=T0 + 1)
    service.customer_message(sessions.get("t-1"), "It is about my earbuds", "m-1", "c1", now=T0 + 2)
    service.post_message("t-1", ALICE, "I see order 1043, it ships Monday.", now=T0 + 3)
    service.release("t-1", ALICE, now=T0 + 4)

    # When the customer's next message starts a turn
    session = sessions.begin_turn("t-1", "demo-customer", "c1")
    graph = make_graph(dynamodb)
    approvals = ApprovalService(ApprovalStore(TABLE, dynamodb), sessions, TurnWorkflow(), analytics)
    runner = TurnRunner(graph, sessions, approvals, sender, flush_ms=0, transcripts=transcripts)
    request = TurnRequest(
        thread_id="t-1",
        turn=session.turn,
        owner="demo-customer",
        content="What is its status?",
        connection_id="c1",
        started_at=T0 + 5,
        handoff_turn=session.context_turn,
    )
    runner.handle(AgentTask(task="run", turn=request))

    # Then the graph got the exchange before the question, the operator's words marked as theirs
    messages = graph.get_state(config("t-1")).values["messages"]
    texts = [(type(m).__name__, getattr(m, "name", None), m.text) for m in messages[:3]]
    assert texts == [
        ("HumanMessage", None, "It is about my earbuds"),
        ("AIMessage", "operator", "Support agent Alice: I see order 1043, it ships Monday."),
        ("HumanMessage", None, "What is its status?"),
    ]
    assert isinstance(messages[0], HumanMessage) and isinstance(messages[1], AIMessage)
    # and the answer is about the order the operator named
    answer = "".join(e["content"] for c, e in sender.sent if c == "c1" and e["type"] == "token")
    assert "Order 1043" in answer
