"""Sessions on moto: conditional begin/finish, ownership, sliding TTL and lazy-TTL filtering."""

import pytest

from smart_support.protocol.errors import NotFound, SessionExpired, ThreadBusy, ValidationFailed
from smart_support.store.sessions import DuplicateMessage, SessionStore
from smart_support.store.sessions.item import RECENT_MESSAGES
from smart_support.store.transcript import segment_item

TABLE = "ConversationsTable"
NOW = 1_800_000_000.0


@pytest.fixture
def sessions(dynamodb):
    return SessionStore(TABLE, ttl_seconds=1800, dynamodb=dynamodb)


def test_first_message_creates_a_running_session(sessions):
    # When a thread's first turn begins
    session = sessions.begin_turn("t-1", "demo-customer", "conn-1", now=NOW)
    # Then it is running turn 1, owned by the sender, expiring one TTL later
    assert (session.status, session.turn, session.owner, session.connection_id) == (
        "running",
        1,
        "demo-customer",
        "conn-1",
    )
    assert session.expires_at == int(NOW) + 1800


def test_second_message_while_running_is_busy(sessions):
    sessions.begin_turn("t-1", "demo-customer", "conn-1", now=NOW)
    with pytest.raises(ThreadBusy):
        sessions.begin_turn("t-1", "demo-customer", "conn-1", now=NOW + 1)


def test_finish_slides_the_ttl_and_allows_the_next_turn(sessions):
    sessions.begin_turn("t-1", "demo-customer", "conn-1", now=NOW)
    finished = sessions.finish_turn("t-1", 1, now=NOW + 100)
    assert finished.status == "idle" and finished.expires_at == int(NOW) + 100 + 1800
    second = sessions.begin_turn("t-1", "demo-customer", "conn-2", now=NOW + 200)
    assert second.turn == 2 and second.connection_id == "conn-2"


def test_finish_of_a_stale_turn_changes_nothing(sessions):
    sessions.begin_turn("t-1", "demo-customer", "c", now=NOW)
    sessions.finish_turn("t-1", 1, now=NOW)
    sessions.begin_turn("t-1", "demo-customer", "c", now=NOW)
    assert sessions.finish_turn("t-1", 1, now=NOW) is None
    assert sessions.get("t-1").status == "running"


def test_another_principal_gets_not_found(sessions):
    sessions.begin_turn("t-1", "demo-customer", "c", now=NOW)
    sessions.finish_turn("t-1", 1, now=NOW)
    with pytest.raises(NotFound):
        sessions.begin_turn("t-1", "c-2001", "c", now=NOW)
    with pytest.raises(NotFound):
        sessions.get_visible("t-1", "c-2001", now=NOW)
    with pytest.raises(NotFound):
        sessions.attach_connection("t-1", "c-2001", "c9", now=NOW)
    assert sessions.get_visible("t-1", "someone", is_operator=True, now=NOW).owner == "demo-customer"


def test_an_item_past_its_ttl_is_expired_even_before_dynamodb_deletes_it(sessions):
    # Given a session whose TTL passed (moto, like DynamoDB, has not deleted it)
    sessions.begin_turn("t-1", "demo-customer", "c", now=NOW)
    sessions.finish_turn("t-1", 1, now=NOW)
    later = NOW + 1801
    assert sessions.get("t-1") is not None
    # Then every read treats it as gone
    with pytest.raises(SessionExpired):
        sessions.begin_turn("t-1", "demo-customer", "c", now=later)
    with pytest.raises(SessionExpired):
        sessions.get_visible("t-1", "demo-customer", now=later)
    with pytest.raises(SessionExpired):
        sessions.attach_connection("t-1", "demo-customer", "c2", now=later)


def test_a_retried_message_id_starts_nothing_new(sessions):
    sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW)
    with pytest.raises(DuplicateMessage) as dup:
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW + 1)
    assert dup.value.session.turn == 1
    sessions.finish_turn("t-1", 1, now=NOW + 2)
    with pytest.raises(DuplicateMessage):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW + 3)
    assert sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-2", now=NOW + 4).turn == 2


def test_awaiting_approval_keeps_the_session_alive_until_the_approval_ends(sessions):
    sessions.begin_turn("t-1", "demo-customer", "c", now=NOW)
    parked = sessions.mark_awaiting_approval("t-1", 1, "i-1", approval_expires_at=NOW + 5000, now=NOW)
    assert parked.status == "awaiting_approval" and parked.pending_interrupt_id == "i-1"
    assert parked.expires_at >= NOW + 5000
    with pytest.raises(ThreadBusy):
        sessions.begin_turn("t-1", "demo-customer", "c", now=NOW + 10)
    resumed = sessions.mark_running("t-1", 1, "i-1", now=NOW + 20)
    assert resumed.status == "running" and resumed.pending_interrupt_id is None
    assert resumed.last_interrupt_id == "i-1"


def test_threads_are_listed_per_owner(sessions):
    for thread in ("a", "b"):
        sessions.begin_turn(thread, "demo-customer", "c", now=NOW)
    sessions.begin_turn("z", "c-2001", "c", now=NOW)
    assert sorted(s.thread_id for s in sessions.list_for_owner("demo-customer")) == ["a", "b"]


def queued_entry(turn: int) -> dict:
    """A queued message's transcript item (its content does not matter to the session store)."""
    return segment_item("t-1", turn, int(NOW * 1000) % 10**13, [{"role": "user", "content": "queued"}], NOW)


def test_a_repeated_message_id_writes_nothing_and_other_content_under_it_is_refused(sessions):
    # Given a turn started by message m-1
    sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW, content="Where is order 1042?")
    running = sessions.get("t-1")
    # When the same frame comes again while it runs, then with other content under the same id
    with pytest.raises(DuplicateMessage) as dup:
        sessions.begin_turn("t-1", "demo-customer", "c2", message_id="m-1", now=NOW + 1, content="Where is order 1042?")
    with pytest.raises(ValidationFailed, match="message_id") as refused:
        sessions.begin_turn("t-1", "demo-customer", "c2", message_id="m-1", now=NOW + 2, content="Cancel order 1043")
    # Then the duplicate carries the thread as it is, and nothing was written
    assert (dup.value.session.status, dup.value.session.turn) == ("running", 1)
    assert refused.value.code == "validation_error"
    assert sessions.get("t-1") == running

    # When the turn ended and the same id comes again (same content, other content), then a new id
    sessions.finish_turn("t-1", 1, now=NOW + 3)
    idle = sessions.get("t-1")
    with pytest.raises(DuplicateMessage) as dup:
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW + 4, content="Where is order 1042?")
    with pytest.raises(ValidationFailed, match="message_id"):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW + 5, content="Cancel order 1043")
    # Then the repeats left the idle thread as it was, and the new id starts turn 2
    assert dup.value.session.status == "idle" and sessions.get("t-1") == idle
    assert sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-2", now=NOW + 6, content="Thanks").turn == 2


def test_a_queued_message_id_is_not_queued_twice_and_is_remembered_once_its_turn_began(sessions):
    # Given a running turn and a message queued behind it as m-q
    sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-1", now=NOW, content="Return policy?")
    sessions.enqueue("t-1", "demo-customer", "my order", "m-q", queued_entry, now=NOW + 1)
    queued = sessions.get("t-1")
    # When the same message is queued again, and other content under m-q
    with pytest.raises(DuplicateMessage) as dup:
        sessions.enqueue("t-1", "demo-customer", "my order", "m-q", queued_entry, now=NOW + 2)
    with pytest.raises(ValidationFailed, match="message_id"):
        sessions.enqueue("t-1", "demo-customer", "something else", "m-q", queued_entry, now=NOW + 3)
    # Then it waits once, and nothing changed
    assert [q.content for q in dup.value.session.queued] == ["my order"]
    assert sessions.get("t-1") == queued

    # When the queue becomes turn 2, which ends
    sessions.advance("t-1", 1, now=NOW + 4)
    sessions.finish_turn("t-1", 2, now=NOW + 5)
    # Then m-q is still known: the same content is a repeat, other content refused, and nothing starts
    with pytest.raises(DuplicateMessage):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-q", now=NOW + 6, content="my order")
    with pytest.raises(ValidationFailed, match="message_id"):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-q", now=NOW + 7, content="other")
    assert (sessions.get("t-1").turn, sessions.get("t-1").status) == (2, "idle")


def test_only_the_last_few_message_ids_are_remembered(sessions):
    # Given more turns than the thread remembers message ids
    for n in range(1, RECENT_MESSAGES + 3):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id=f"m-{n}", now=NOW + n, content=f"question {n}")
        sessions.finish_turn("t-1", n, now=NOW + n)
    # Then the session keeps the last RECENT_MESSAGES ids, newest last: it never grows with the conversation
    remembered = [r.message_id for r in sessions.get("t-1").recent_messages]
    assert remembered == [f"m-{n}" for n in range(3, RECENT_MESSAGES + 3)]
    # And a remembered one is still a repeat
    with pytest.raises(DuplicateMessage):
        sessions.begin_turn("t-1", "demo-customer", "c", message_id="m-3", now=NOW + 100, content="question 3")
