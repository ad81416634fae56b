"""A run's stream on its way to the client: the specialists' tokens as the model makes them (TokenTap), tool calls and
opened tickets from the graph's updates (EventRelay), and the transcript entries of what was said."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult
from langgraph.constants import TAG_NOSTREAM

from smart_support.agent.citations import Citation, citations_in
from smart_support.agent.handoff import announce_handoff
from smart_support.agent.model_errors import is_transient
from smart_support.agent.nodes import AGENT_NODES, HANDOFF_PREFIX, SPECIALISTS
from smart_support.agent.usage import ModelUsage
from smart_support.clock import iso
from smart_support.protocol.events import tool_call_event
from smart_support.turns.streaming import ThreadChannel, TokenCoalescer

if TYPE_CHECKING:
    from smart_support.store.transcript import TranscriptEntry

SPEAKERS = SPECIALISTS  # the supervisor only routes
ESCALATION_TOOLS = "escalation_tools"
WRITE_DONE = ("cancelled", "refund_requested", "address_updated")


def message_text(message: BaseMessage) -> str:
    """The text of a message (its text parts, when its content is a list of parts)."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def _opened_tickets(messages: list[Any]) -> list[str]:
    """The ticket ids in the escalate_to_human results among a tool node's messages."""
    opened = []
    for message in messages:
        if isinstance(message, ToolMessage) and message.name == "escalate_to_human":
            try:
                ticket_id = json.loads(message_text(message)).get("ticket_id")
            except (ValueError, AttributeError):
                continue
            if ticket_id:
                opened.append(str(ticket_id))
    return opened


def write_result(message: ToolMessage) -> dict[str, Any] | None:
    """What a decided gated write did, from its tool result: {interrupt_id, ran, result} (None for other tools)."""
    try:
        payload = json.loads(message_text(message))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload.get("interrupt_id"):
        return None
    result = payload.get("result") or payload.get("error") or "unknown"
    return {"interrupt_id": str(payload["interrupt_id"]), "ran": result in WRITE_DONE, "result": str(result)}


class EventRelay:
    """Forwards one run's stream to the client (coalesced tokens, tool calls) and records its transcript entries."""

    def __init__(
        self,
        channel: ThreadChannel,
        coalescer: TokenCoalescer,
        entries: list[TranscriptEntry],
        usage: ModelUsage,
        citations: list[Citation] | None = None,
    ) -> None:
        self.channel = channel
        self.coalescer = coalescer
        self.entries = entries
        self.usage = usage
        self.citations = citations if citations is not None else []  # the help articles searched (agent/citations)
        self.interrupts: list[Any] = []
        self.tools: list[str] = []
        self.writes: dict[str, dict[str, Any]] = {}  # interrupt id -> what its gated write did (agent/tools.py)
        self.first_token_at: float | None = None  # when the first answer token went to the client (epoch seconds)
        self._current: TranscriptEntry | None = None
        self._call_mark: tuple[int, TranscriptEntry | None, int] = (0, None, 0)

    def _entry_for(self, agent: str) -> TranscriptEntry:
        if self._current is None or self._current["agent"] != agent:
            self._current = {
                "role": "assistant",
                "agent": agent,
                "content": "",
                "tool_calls": [],
                "at": iso(time.time()),
            }
            self.entries.append(self._current)
        return self._current

    def begin_call(self, node: str) -> None:
        """A specialist's model call starts: remember where its answer begins, to take it back if the call fails."""
        current = self._current
        self._call_mark = (len(self.entries), current, len(current["content"]) if current else 0)

    def restart_call(self, node: str) -> None:
        """The call failed part-way and is tried again: its partial answer leaves the transcript and the client."""
        count, current, length = self._call_mark
        self.coalescer.discard()
        del self.entries[count:]
        if current is not None:
            current["content"] = current["content"][:length]
        self._current = current
        self.channel.restart_answer()

    def token(self, node: str, message: BaseMessage) -> None:
        """A chunk of a specialist's answer."""
        if node in SPEAKERS and isinstance(message, AIMessageChunk | AIMessage) and (text := message_text(message)):
            self.usage.first_token()
            if self.first_token_at is None:
                self.first_token_at = time.time()
            self.coalescer.add(node, text)
            self._entry_for(node)["content"] += text

    def update(self, chunk: dict[str, Any]) -> None:
        """A node's update: tool calls and opened tickets go to the client, an interrupt goes to the state machine."""
        for node, update in chunk.items():
            if node == "__interrupt__":
                self.interrupts.extend(update)
                continue
            if node == ESCALATION_TOOLS and isinstance(update, dict):
                for ticket_id in _opened_tickets(update.get("messages") or []):
                    self.coalescer.flush()
                    announce_handoff(self.channel, self.entries, ticket_id)
                    self._current = None  # what the agent says next comes after this line
            if not isinstance(update, dict):
                continue
            for message in update.get("messages", []) or []:
                if isinstance(message, ToolMessage) and (done := write_result(message)):
                    self.writes[done["interrupt_id"]] = done
            citations_in(update.get("messages", []) or [], into=self.citations)
            if node not in AGENT_NODES:
                continue
            for message in update.get("messages", []) or []:
                # A handoff to another specialist is routing, not an action: the client never sees it.
                calls = [c for c in getattr(message, "tool_calls", []) if not c["name"].startswith(HANDOFF_PREFIX)]
                if isinstance(message, AIMessage) and calls:
                    self.coalescer.flush()
                    for call in calls:
                        self.channel.send(tool_call_event(self.channel.thread_id, call["name"], call["args"], node))
                        self._entry_for(node)["tool_calls"].append({"tool": call["name"], "args": call["args"]})
                        self.tools.append(call["name"])

    def cut(self) -> None:
        """The customer stopped the answer: send what is buffered, mark what was said as interrupted."""
        self.coalescer.flush()
        for entry in self.entries:
            if entry.get("role") == "assistant":
                entry["interrupted"] = True

    def finish(self, cancelled: bool) -> dict[str, Any]:
        """Flush; the run's interrupts, tools and whether it was cancelled."""
        self.coalescer.flush()
        for entry in self.entries:
            if entry.get("role") == "assistant" and not entry["tool_calls"]:
                entry.pop("tool_calls")
        return {
            "interrupts": self.interrupts,
            "tools": self.tools,
            "writes": self.writes,
            "cancelled": cancelled,
            "first_token_at": self.first_token_at,
        }


T = TypeVar("T")


class TokenSink(Protocol):
    """Where a specialist's answer tokens go (EventRelay)."""

    def begin_call(self, node: str) -> None:
        """A model call for `node`'s answer starts."""

    def token(self, node: str, message: BaseMessage) -> None:
        """A chunk of `node`'s answer."""

    def restart_call(self, node: str) -> None:
        """That call failed: take back what it said (it may be tried again)."""


class TokenTap(BaseCallbackHandler):
    """Hands each token of a specialist's answer to the relay as the model makes it, on the model's own thread.

    LangGraph's stream_mode="messages" does this through a queue: it runs every node on a worker thread and wakes the
    caller's thread once a token. With only "updates" streamed, a step of one task runs on the caller's thread, so a
    turn's tokens cross no thread. Having tap_output_iter makes it a streaming handler, which is what makes a
    model's invoke() stream (langchain-core's _StreamingCallbackHandler protocol, as LangGraph's own handler does).
    """

    raise_error = True  # RunStopped (agent/cancel.py), raised by `cancelled`, must reach the graph

    def __init__(self, relay: TokenSink, cancelled: Callable[[], bool]) -> None:
        super().__init__()
        self.relay = relay
        self.cancelled = cancelled
        self._lock = threading.Lock()  # a step of several tasks runs them on worker threads
        self._speakers: dict[UUID, str] = {}
        self._streamed: set[UUID] = set()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Follow the call if a specialist makes it for the customer to read (the summary's is tagged nostream)."""
        node = (metadata or {}).get("langgraph_node")
        if node in SPEAKERS and TAG_NOSTREAM not in (tags or ()):
            self._speakers[run_id] = node
            with self._lock:
                self.relay.begin_call(node)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Relay the token, unless the customer stopped the answer."""
        node = self._speakers.get(run_id)
        if node is None or not isinstance(chunk, ChatGenerationChunk):
            return
        self._streamed.add(run_id)
        with self._lock:
            if not self.cancelled():
                self.relay.token(node, chunk.message)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A model that did not stream: relay its whole answer at once."""
        node = self._speakers.pop(run_id, None)
        if node is None or run_id in self._streamed:
            self._streamed.discard(run_id)
            return
        for generation in response.generations[0] if response.generations else []:
            if isinstance(generation, ChatGeneration):
                with self._lock:
                    if not self.cancelled():
                        self.relay.token(node, generation.message)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the call; if it failed transiently, what it streamed too (it is tried again: graph.MODEL_RETRY).
        A stopped answer (RunStopped) keeps what it said."""
        node = self._speakers.pop(run_id, None)
        if run_id in self._streamed and node is not None and is_transient(error):
            with self._lock:
                self.relay.restart_call(node)
        self._streamed.discard(run_id)

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        """Pass the output through (the streaming handler protocol)."""
        return output

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass the output through (the streaming handler protocol)."""
        return output
