"""A client that leaves mid-turn: the turn finishes, the answer is saved, `resume` re-attaches a new connection."""

import pytest

from tests.e2e.conftest import new_thread
from tests.faults.conftest import transcript, wait_for_status

pytestmark = pytest.mark.e2e

LONG = "Hello!"  # about 60 words: ~2 s at 30 ms a word


def words(events):
    return "".join(e["content"] for e in events if e["type"] == "token")


def test_answer_is_saved_when_the_client_leaves_mid_turn(fault_stack):
    token = fault_stack.token("c-fault-leaver")
    thread = new_thread("leave")
    # Given a turn that is streaming
    with fault_stack.ws(token) as first:
        first.send({"type": "message", "thread_id": thread, "content": LONG})
        first.until(lambda e: e["type"] == "token")
    # When the client goes away after the first token, the turn still finishes
    wait_for_status(fault_stack, thread, token, "idle")
    # Then the replay has the whole answer
    entries = transcript(fault_stack, thread, token)
    assert [e["role"] for e in entries] == ["user", "assistant"]
    assert len(entries[1]["content"].split()) > 40
    # And a new connection that resumes hears the thread is idle, and can carry on
    with fault_stack.ws(token) as second:
        second.send({"type": "resume", "thread_id": thread})
        assert second.recv() == {"type": "status", "thread_id": thread, "status": "idle", "turn": 1, "queued": 0}
        events = second.ask(thread, "How long does shipping take?")
        assert events[-1]["type"] == "message_complete" and words(events)


def test_resume_mid_turn_reattaches_and_gets_the_rest(fault_stack):
    token = fault_stack.token("c-fault-resumer")
    thread = new_thread("resume")
    with fault_stack.ws(token) as first:
        first.send({"type": "message", "thread_id": thread, "content": LONG})
        before = first.until(lambda e: e["type"] == "token")
    # When the customer reconnects at once and resumes the thread
    with fault_stack.ws(token) as second:
        second.send({"type": "resume", "thread_id": thread})
        status = second.until(lambda e: e["type"] == "status")[-1]
        assert status["status"] == "running" and status["turn"] == 1
        # Then the rest of the turn comes to the new connection, ending with its one message_complete
        rest = second.until(lambda e: e["type"] == "message_complete", timeout=20)
        assert words(rest), "no token reached the resumed connection"
        assert sum(e["type"] == "message_complete" for e in rest) == 1
        assert all(e.get("thread_id") == thread for e in rest)
        assert second.quiet(0.5) == []
    # And the saved answer is the whole answer, whatever was streamed where
    saved = transcript(fault_stack, thread, token)[-1]["content"]
    assert saved.startswith(words(before)) and saved.endswith(words(rest))


def test_resume_while_awaiting_approval_resends_the_interrupt(fault_stack):
    token = fault_stack.token("demo-customer")
    thread = new_thread("resume-approval")
    with fault_stack.ws(token) as first:
        interrupt = first.ask(thread, "Please change the address of order 1043 to 1 Resume Road, Springfield")[-1]
        assert interrupt["type"] == "interrupt"
    with fault_stack.ws(token) as second:
        second.send({"type": "resume", "thread_id": thread})
        got = second.until(lambda e: e["type"] == "status")
        assert got[-1]["status"] == "awaiting_approval"
        again = [e for e in got if e["type"] == "interrupt"]
        assert again and again[0]["interrupt_id"] == interrupt["interrupt_id"]
        # The decision on the new connection finishes the turn there
        second.send(
            {
                "type": "interrupt_response",
                "thread_id": thread,
                "interrupt_id": interrupt["interrupt_id"],
                "approved": False,
            }
        )
        rest = second.until(lambda e: e["type"] == "message_complete")
        assert rest[0]["type"] == "interrupt_resolved" and rest[0]["approved"] is False
