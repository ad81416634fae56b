"""A run's part in a hand-off to a person: telling the thread one was asked for, and reading back to the model what
the customer and an operator said while the operator held the thread."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from smart_support.agent.context import OPERATOR_NAME
from smart_support.clock import iso
from smart_support.protocol.events import handoff_event
from smart_support.store.ports import TranscriptRepository
from smart_support.turns.models import TurnRequest
from smart_support.turns.streaming import ThreadChannel

if TYPE_CHECKING:
    from smart_support.store.transcript import TranscriptEntry

HANDOFF_CONTEXT_MESSAGES = 40  # of an operator's exchange with the customer, the most recent reach the model
OPERATOR_PREFIX = "Support agent"  # how the model tells a human operator's words from its own


def announce_handoff(channel: ThreadChannel, entries: list[TranscriptEntry], ticket_id: str) -> None:
    """Tell the customer (and the watchers) that a person was asked for; the transcript keeps it."""
    now = iso(time.time())
    channel.send(handoff_event(channel.thread_id, "requested", ticket_id, at=now))
    entries.append({"role": "system", "event": "handoff", "state": "requested", "ticket_id": ticket_id, "at": now})


def handoff_messages(transcripts: TranscriptRepository | None, turn: TurnRequest) -> list[BaseMessage]:
    """What the customer and an operator said while the operator held the thread (the model was paused)."""
    if turn.handoff_turn is None or transcripts is None:
        return []
    exchange = transcripts.handoff_exchange(turn.thread_id, turn.handoff_turn, HANDOFF_CONTEXT_MESSAGES)
    messages: list[BaseMessage] = []
    for entry in exchange:
        if entry["role"] == "operator":
            who = entry.get("operator") or "a support agent"
            messages.append(AIMessage(f"{OPERATOR_PREFIX} {who}: {entry['content']}", name=OPERATOR_NAME))
        else:
            messages.append(HumanMessage(entry["content"]))
    return messages
