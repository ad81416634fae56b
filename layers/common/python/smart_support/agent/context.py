"""What the model sees of a conversation: its system prompt, a running summary of older turns, the recent turns.

A turn starts at a customer message (HumanMessage) and holds what followed it: tool calls, tool results, answers.
Messages queued behind a running turn arrive together and make one turn, and so does what the customer and an
operator said while the operator held the thread (it reaches the model with the next question, whole).
Every model call gets the current turn whole, then as many of the latest earlier turns as fit the token budget
(`CONTEXT_TOKENS`, at most `CONTEXT_TURNS` of them). When a turn ends, the turns that the next turn's window
could no longer show are folded into the summary by the model and removed from the graph state, so neither the
model input nor the checkpoint grows with the conversation. Tokens are counted approximately (4 characters a
token), which is what a budget needs: a bound, not a bill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, get_buffer_string, trim_messages

SUMMARY_HEADER = "Summary of the earlier conversation"
SUMMARY_MAX_CHARS = 2000  # about 500 tokens: the notes stay short whatever the model writes
# Room kept for the next turn when deciding what to fold: one 8,000-character message and its tool results.
NEXT_TURN_TOKENS = 2500
FOLD_MARKER = "Messages leaving the window, oldest first:"
OPERATOR_NAME = "operator"  # the `name` of an AIMessage a human operator wrote


@dataclass(frozen=True)
class ContextWindow:
    """The token and turn budget of the recent turns the model sees verbatim."""

    tokens: int = 6000
    turns: int = 4

    def model_input(self, system: SystemMessage, summary: str, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """One model call's messages: the system prompt, the summary, the earlier turns that fit, the current turn."""
        start = current_turn_start(messages)
        current = list(messages[start:])
        notes = [summary_message(summary)] if summary else []
        room = self.tokens - count_tokens_approximately([*notes, *current])
        visible = [*recent_turns(messages[:start], room, self.turns), *current]
        return [system, *notes, *(as_note(m) for m in visible)]

    def fold(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The oldest messages the next turn's window would not show (whole turns; empty while everything fits)."""
        room = self.tokens - SUMMARY_MAX_CHARS // 4 - NEXT_TURN_TOKENS
        kept = recent_turns(messages, room, self.turns)
        return list(messages[: len(messages) - len(kept)])


def as_note(message: BaseMessage) -> BaseMessage:
    """What the model sees of a message: a human operator's words arrive as a note, never in the assistant's voice
    (a small model that sees "its own" messages signed by a person starts signing its answers that way)."""
    if isinstance(message, AIMessage) and message.name == OPERATOR_NAME:
        return HumanMessage(f"{OPERATOR_NOTE} {message.text}]", name=OPERATOR_NAME)
    return message


OPERATOR_NOTE = "[Not from the customer: while you were paused, a human support agent wrote to the customer:"


def current_turn_start(messages: Sequence[BaseMessage]) -> int:
    """Index of the first customer message of the latest turn (0 when there is none)."""
    starts = turn_starts(messages)
    return starts[-1] if starts else 0


def turn_starts(messages: Sequence[BaseMessage]) -> list[int]:
    """Indexes where a turn starts: a customer message that follows neither another one nor an operator's."""
    return [
        index
        for index, message in enumerate(messages)
        if isinstance(message, HumanMessage) and (index == 0 or not _continues_turn(messages[index - 1]))
    ]


def _continues_turn(previous: BaseMessage) -> bool:
    return isinstance(previous, HumanMessage) or (isinstance(previous, AIMessage) and previous.name == OPERATOR_NAME)


def recent_turns(messages: Sequence[BaseMessage], max_tokens: int, max_turns: int) -> list[BaseMessage]:
    """The latest whole turns of `messages` that fit in `max_tokens`, at most `max_turns` of them."""
    if max_tokens <= 0 or not messages:
        return []
    kept = trim_messages(
        list(messages),
        max_tokens=max_tokens,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
    )
    starts = turn_starts(kept)
    return kept[starts[-max_turns] :] if len(starts) > max_turns else kept


def summary_message(summary: str) -> SystemMessage:
    """The running summary, as the system message that follows the prompt."""
    return SystemMessage(f"{SUMMARY_HEADER} (older turns, no longer shown):\n{summary}")


def summary_of(messages: Sequence[BaseMessage]) -> str:
    """The summary carried by `summary_message` among `messages` ("" if none)."""
    for message in messages:
        if isinstance(message, SystemMessage) and message.text.startswith(SUMMARY_HEADER):
            return message.text.partition("\n")[2]
    return ""


def fold_request(summary: str, folded: Sequence[BaseMessage]) -> str:
    """The summarizer's input: the notes so far and the messages leaving the window, as a plain transcript."""
    transcript = get_buffer_string(folded, human_prefix="Customer", ai_prefix="Assistant")
    return f"Notes so far:\n{summary or '(none yet)'}\n\n{FOLD_MARKER}\n{transcript}"
