"""The customer's Stop: noticing it while the answer streams, ending a run that wrote nothing yet, and keeping what
was said before it in the conversation the model sees next."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage

from smart_support.agent.relay import SPEAKERS
from smart_support.store.ports import SessionRepository

if TYPE_CHECKING:
    from smart_support.store.transcript import TranscriptEntry

CUT_NOTE = "[The customer stopped this answer here.]"


class RunStopped(Exception):
    """The customer stopped a run that has written nothing yet: it ends at its next token.

    Raised from TokenTap through langchain-core, which logs a callback warning naming it on its way out.
    """


class CancelWatch:
    """Has the customer asked this turn to stop? Checked at most every CHECK_SECONDS while the answer streams."""

    CHECK_SECONDS = 0.5

    def __init__(self, sessions: SessionRepository, thread_id: str, turn: int, check_now: bool = False) -> None:
        self.sessions = sessions
        self.thread_id = thread_id
        self.turn = turn
        self.cancelled = False
        self._next_check = time.monotonic() + (0 if check_now else self.CHECK_SECONDS)

    def check(self) -> bool:
        """True once cancelled (one read per CHECK_SECONDS at most)."""
        if not self.cancelled and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self.CHECK_SECONDS
            self.cancelled = self.sessions.cancel_requested(self.thread_id, self.turn)
        return self.cancelled


def record_cut(graph: Any, checkpoint_thread: str, asked: list[BaseMessage], entries: list[TranscriptEntry]) -> None:
    """A stopped run checkpointed nothing: keep the question and the partial answer, marked as cut."""
    said = "".join(e.get("content", "") for e in entries if e.get("role") == "assistant").strip()
    note = CUT_NOTE if not said else f"{said} {CUT_NOTE}"
    speaker = next((e["agent"] for e in reversed(entries) if e.get("role") == "assistant"), SPEAKERS[-1])
    config = {"configurable": {"thread_id": checkpoint_thread}}
    graph.update_state(config, {"messages": [*asked, AIMessage(note)]}, as_node=speaker)
