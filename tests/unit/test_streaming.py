"""Token coalescing and frame limits, with a recording sender (the real @connections path is tested e2e)."""

from typing import Any

from smart_support.protocol.events import dumps
from smart_support.protocol.frames import MAX_FRAME_BYTES
from smart_support.store.sessions import Session
from smart_support.turns.streaming import MAX_TOKEN_CHARS, ThreadChannel, TokenCoalescer


class RecordingSender:
    """A Sender that keeps what it posted; connections in `gone` have left."""

    def __init__(self, gone: tuple[str, ...] | set[str] = ()) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.gone = set(gone)

    def send(self, connection_id: str | None, payload: dict[str, Any]) -> bool:
        if not connection_id or connection_id in self.gone:
            return False
        self.sent.append((connection_id, payload))
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SessionsWith:
    """A SessionReader whose thread is on `connection_id`; counts its reads."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        self.reads = 0

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
        )


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
