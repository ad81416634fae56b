"""Token coalescing and frame limits, with a recording sender (the real @connections path is tested e2e)."""

from collections.abc import Mapping
from typing import Any

from smart_support.protocol.events import dumps
from smart_support.protocol.types import MAX_FRAME_BYTES
from smart_support.store.sessions import Session
from smart_support.turns.streaming import MAX_TOKEN_CHARS, ThreadChannel, TokenCoalescer


class RecordingSender:
    """A Sender that keeps what it posted; connections in `gone` have left."""

    def __init__(self, gone: tuple[str, ...] | set[str] = ()) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gone = set(gone)

    def send(self, connection_id: str | None, payload: Mapping[str, object]) -> bool:
        if not connection_id or connection_id in self.gone:
            return False
        self.sent.append((connection_id, dict(payload)))
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SessionsWith:
    """A SessionReader whose thread is on `connection_id`; counts its reads."""

    def __init__(self, connection_id: str, watchers: dict[str, int] | None = None) -> None:
        self.connection_id = connection_id
        self.watchers = dict(watchers or {})
        self.reads = 0
        self.forgotten: list[str] = []

    def get(self, thread_id: str) -> Session | None:
        self.reads += 1
        stamp = "2026-11-24T00:00:00Z"
        return Session(
            thread_id=thread_id,
            owner="demo-customer",
            connection_id=self.connection_id,
            created_at=stamp,
            updated_at=stamp,
            expires_at=1795480200,
            watchers=self.watchers,
        )

    def remove_watcher(self, thread_id: str, connection_id: str) -> Session | None:
        self.forgotten.append(connection_id)
        self.watchers.pop(connection_id, None)
        return self.get(thread_id)


def test_first_token_goes_at_once_then_windows_grow():
    # Given a 60-word answer arriving at 20 ms per word
    clock, sender = FakeClock(), RecordingSender()
    channel = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=clock)
    coalescer = TokenCoalescer(channel, flush_ms=50, clock=clock)
    # When each word is added
    for i in range(60):
        coalescer.add("order_status", f"w{i} ")
        if i == 0:
            assert len(sender.sent) == 1  # Then the first token is not delayed
        clock.now += 0.020
    coalescer.flush()
    # Then the whole text arrives in few frames
    text = "".join(p["content"] for _, p in sender.sent)
    assert text == "".join(f"w{i} " for i in range(60))
    assert len(sender.sent) <= 8


def test_agent_change_flushes_so_every_frame_names_one_agent():
    clock, sender = FakeClock(), RecordingSender()
    coalescer = TokenCoalescer(ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=clock), clock=clock)
    coalescer.add("order_status", "a")
    coalescer.add("order_status", "b")
    coalescer.add("knowledge", "c")
    coalescer.flush()
    assert [(p["agent"], p["content"]) for _, p in sender.sent] == [
        ("order_status", "a"),
        ("order_status", "b"),
        ("knowledge", "c"),
    ]


def test_oversize_answers_are_split_under_the_frame_limit():
    clock, sender = FakeClock(), RecordingSender()
    coalescer = TokenCoalescer(ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=clock), clock=clock)
    coalescer.add("knowledge", "start ")
    big = "€" * (MAX_TOKEN_CHARS * 3 + 17)
    coalescer.add("knowledge", big)
    coalescer.flush()
    assert "".join(p["content"] for _, p in sender.sent) == "start " + big
    assert all(len(dumps(p).encode()) < MAX_FRAME_BYTES for _, p in sender.sent)


def test_channel_follows_a_reconnected_client():
    # Given the original connection is gone and the session names a new one
    sender, sessions = RecordingSender(gone={"old"}), SessionsWith("new")
    channel = ThreadChannel(sender, sessions, "t", "old", clock=FakeClock())
    # When an event is sent
    assert channel.send({"type": "token"}) is True
    # Then it reached the new connection
    assert sender.sent == [("new", {"type": "token"})]


def test_channel_does_not_hammer_the_table_when_the_client_left():
    clock, sender, sessions = FakeClock(), RecordingSender(gone={"old"}), SessionsWith("old")
    channel = ThreadChannel(sender, sessions, "t", "old", clock=clock)
    for _ in range(20):
        assert channel.send({"type": "token"}) is False
    assert sessions.reads == 1
    clock.now += 2
    channel.send({"type": "token"})
    assert sessions.reads == 2


FAR = 4_000_000_000  # a watch that has not lapsed


def test_events_reach_the_watching_operators_and_a_console_that_left_is_forgotten():
    # Given a customer on c1 and two consoles watching, one of which has left
    sender, sessions = RecordingSender(gone={"console-gone"}), SessionsWith("c1")
    channel = ThreadChannel(sender, sessions, "t", "c1", clock=FakeClock(), watchers=["console-1", "console-gone"])

    # When two events are sent
    channel.send({"type": "token", "content": "a"})
    channel.send({"type": "message_complete"})

    # Then the customer and the live console get both; the console that left is forgotten after the first try
    assert sender.sent == [
        ("c1", {"type": "token", "content": "a"}),
        ("console-1", {"type": "token", "content": "a"}),
        ("c1", {"type": "message_complete"}),
        ("console-1", {"type": "message_complete"}),
    ]
    assert sessions.forgotten == ["console-gone"] and channel.watchers == ["console-1"]


def test_a_watch_that_starts_mid_turn_gets_the_events_after_the_next_look():
    # Given a turn streaming to c1 when an operator starts watching
    clock, sender = FakeClock(), RecordingSender()
    sessions = SessionsWith("c1")
    channel = ThreadChannel(sender, sessions, "t", "c1", clock=clock)
    channel.send({"type": "token", "content": "a"})
    sessions.watchers = {"console-1": FAR}

    # When tokens keep coming for longer than the refresh window
    channel.send({"type": "token", "content": "b"})
    clock.now += ThreadChannel.WATCHERS_REFRESH_SECONDS
    channel.send({"type": "token", "content": "c"})

    # Then the console gets what came after the session was read again, with one read for it
    assert [p["content"] for c, p in sender.sent if c == "console-1"] == ["c"]
    assert sessions.reads == 1


def test_the_end_of_a_turn_follows_a_client_that_reloaded_mid_answer():
    # Given a customer whose page reloaded: the old connection is gone, the new one is not known yet
    clock, sender, sessions = FakeClock(), RecordingSender(gone={"old"}), SessionsWith("old")
    channel = ThreadChannel(sender, sessions, "t", "old", clock=clock)
    assert channel.send({"type": "token", "content": "a"}) is False

    # When the new page re-attaches the thread, and the turn ends within the recheck window
    sessions.connection_id = "new"
    clock.now += ThreadChannel.RECHECK_SECONDS / 4
    token_sent = channel.send({"type": "token", "content": "b"})
    done = channel.send({"type": "message_complete"})

    # Then tokens wait out the window, but message_complete looks again and reaches the new connection
    assert token_sent is False and done is True
    assert sender.sent == [("new", {"type": "message_complete"})]


def shown(sent: list[tuple[str, dict[str, Any]]], connection: str = "c1") -> list[str]:
    """The answers a client shows: `answer_restart` drops the one being streamed (docs/protocol.md)."""
    bubbles: list[str] = []
    streaming = False
    for to, payload in sent:
        if to != connection:
            continue
        if payload["type"] == "token":
            if not streaming:
                bubbles.append("")
            bubbles[-1] += payload["content"]
            streaming = True
        elif payload["type"] == "answer_restart":
            if streaming:
                bubbles.pop()
            streaming = False
        else:
            streaming = False
    return bubbles


def token(content: str) -> dict[str, Any]:
    return {"type": "token", "thread_id": "t", "content": content, "agent": "knowledge"}


def test_a_failed_model_call_takes_back_its_partial_answer_and_the_retried_call_replaces_it():
    # Given an answer that streamed half way when the model call failed
    sender = RecordingSender()
    channel = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    channel.send({"type": "tool_call", "tool": "search_faq"})
    channel.send(token("Standard shipping "))
    # When the call is taken back and asked again
    channel.restart_answer()
    channel.send(token("Standard shipping takes 3-5 days."))
    channel.send({"type": "message_complete"})
    # Then the client was told the answer restarts, and shows it once
    assert [p["type"] for _, p in sender.sent].count("answer_restart") == 1
    assert shown(sender.sent) == ["Standard shipping takes 3-5 days."]
    # And what the client has is what a later retry of the task would skip
    assert "".join(channel.delivered_text) == "Standard shipping takes 3-5 days."


def test_a_failed_call_that_had_streamed_nothing_sends_no_restart():
    sender = RecordingSender()
    channel = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    channel.send({"type": "tool_call", "tool": "search_faq"})
    channel.restart_answer()
    assert [p["type"] for _, p in sender.sent] == ["tool_call"]


def test_a_retried_task_that_words_the_answer_differently_restarts_it_on_the_client():
    # Given a first attempt that streamed part of an answer before the task failed
    first = RecordingSender()
    channel = ThreadChannel(first, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    channel.send(token("Your order "))
    channel.send(token("ships today"))
    # When the retry (a real model words it differently) streams its own answer
    sender = RecordingSender()
    retry = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    retry.skip_delivered("".join(channel.delivered_text), channel.delivered_events)
    retry.send(token("Your order "))
    retry.send(token("left our warehouse today."))
    retry.send({"type": "message_complete"})
    # Then the shared start was not sent again, the client was told to restart, and then got the whole new answer
    assert [p["type"] for _, p in sender.sent] == ["answer_restart", "token", "message_complete"]
    assert shown(first.sent + sender.sent) == ["Your order left our warehouse today."]
    assert "".join(retry.delivered_text) == "Your order left our warehouse today."


def test_a_retried_task_with_a_shorter_answer_restarts_it_before_the_turn_ends():
    # Given a first attempt that had streamed more than the retry will say
    sender = RecordingSender()
    retry = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    retry.skip_delivered("Your order ships today, and it", [])
    # When the retry's answer ends sooner
    retry.send(token("Your order ships today."[:16]))
    retry.send({"type": "message_complete"})
    # Then the client drops the longer answer and keeps this one's words
    events = [p for _, p in sender.sent]
    assert [p["type"] for p in events] == ["answer_restart", "token", "message_complete"]
    assert shown([("c1", token("Your order ships today, and it")), *sender.sent]) == ["Your order ships"]


def test_a_retried_task_that_says_the_same_sends_nothing_twice_and_no_restart():
    sender = RecordingSender()
    retry = ThreadChannel(sender, SessionsWith("c1"), "t", "c1", clock=FakeClock())
    retry.skip_delivered("Your order ", [])
    retry.send(token("Your order ships today."))
    retry.send({"type": "message_complete"})
    assert [p.get("content") for _, p in sender.sent] == ["ships today.", None]
