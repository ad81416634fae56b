"""Runs one agent task (a turn or its resumption): streams events, stores the transcript, finishes the turn.

What AWS does to it: the end-of-turn transaction can be cancelled by a conflict or throttled (retried with backoff in
the store; only a failed condition on the session means "the thread moved on"); a failure past the retries fails the
task with TransientError, Step Functions retries it, and the retry sends the client nothing it already has.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol, TypeVar
from uuid import UUID

from aws_lambda_powertools import Logger
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult
from langgraph.constants import TAG_NOSTREAM
from langgraph.types import Command

from smart_support import aws
from smart_support.agent.context import OPERATOR_NAME
from smart_support.agent.nodes import AGENT_NODES, HANDOFF_PREFIX, SPECIALISTS
from smart_support.agent.usage import ModelUsage
from smart_support.aws import TransientError
from smart_support.clock import iso
from smart_support.protocol.errors import InternalError
from smart_support.protocol.events import error_event, event, handoff_event, message_complete_event, tool_call_event
from smart_support.store import analytics
from smart_support.store.approvals import AuditSubject
from smart_support.store.deliveries import Delivery, DeliveryStore, delivery_key
from smart_support.store.dynamodb import StoreError, is_transient_failure
from smart_support.store.ports import SessionRepository, TicketRepository, TranscriptRepository
from smart_support.store.sessions import QueuedMessage, Session
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, Decision, InterruptInfo, TurnRequest
from smart_support.turns.policy import args_hash, canonical_args, describe
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.streaming import Sender, ThreadChannel, TokenCoalescer

logger = Logger(child=True)

SPEAKERS = SPECIALISTS  # the supervisor only routes
THROTTLING_CODES = (
    "ThrottlingException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ServiceUnavailableException",
)


CUT_NOTE = "[The customer stopped this answer here.]"
CONTEXT_MESSAGES = 4
CONTEXT_CHARS = 400
MAX_APPROVALS_PER_TURN = 5
LIMIT_ROUNDS = 3  # automatic refusals before the turn ends with the model still asking
LIMIT_COMMENT = (
    f"Not asked: one message can ask for at most {MAX_APPROVALS_PER_TURN} approvals. "
    "Ask the customer to request this again in a new message."
)
LIMIT_NOTE = (
    f"I can ask for at most {MAX_APPROVALS_PER_TURN} approvals in one message, so I did not ask for the rest; "
    "please send those requests again in a new message."
)


HANDOFF_CONTEXT_MESSAGES = 40  # of an operator's exchange with the customer, the most recent reach the model
OPERATOR_PREFIX = "Support agent"  # how the model tells a human operator's words from its own
ESCALATION_TOOLS = "escalation_tools"


def _opened_tickets(messages: list[Any]) -> list[str]:
    """The ticket ids in the escalate_to_human results among a tool node's messages."""
    opened = []
    for message in messages:
        if isinstance(message, ToolMessage) and message.name == "escalate_to_human":
            try:
                ticket_id = json.loads(_text(message)).get("ticket_id")
            except (ValueError, AttributeError):
                continue
            if ticket_id:
                opened.append(str(ticket_id))
    return opened


def announce_handoff(channel: ThreadChannel, entries: list[dict[str, Any]], ticket_id: str) -> None:
    """Tell the customer (and the watchers) that a person was asked for; the transcript keeps it."""
    now = iso(time.time())
    channel.send(handoff_event(channel.thread_id, "requested", ticket_id, at=now))
    entries.append({"role": "system", "event": "handoff", "state": "requested", "ticket_id": ticket_id, "at": now})


class ThrottlingError(TransientError):
    """The model provider or AWS throttled us past the client's own retries (the state machine retries it)."""


def transient_failure(exc: Exception) -> TransientError | None:
    """The TransientError to fail the task with when `exc` is AWS failing transiently past every retry."""
    if not is_transient_failure(exc):
        return None
    code = exc.code if isinstance(exc, StoreError) else aws.error_code(exc)
    return ThrottlingError(str(exc)) if code in THROTTLING_CODES else TransientError(str(exc))


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def resume_value(info: InterruptInfo, decision: Decision) -> dict[str, Any]:
    """The graph's resume value: the decision bound to the interrupt it answers (id and arguments' hash)."""
    if decision.interrupt_id not in (None, info.interrupt_id):
        raise ValueError("the decision answers another approval")
    if decision.args_hash not in (None, args_hash(info.args)):
        raise ValueError("the decision answers other arguments")
    return {
        "interrupt_id": info.interrupt_id,
        "args_hash": args_hash(info.args),  # of the canonical call: what a store's round trip returns hashes the same
        "approved": decision.approved,
        "decided_by": decision.decided_by,
        "outcome": decision.resolved_outcome(),
        "comment": decision.comment,
        "edited_args": decision.edited_args if decision.approved else None,
    }


def write_result(message: ToolMessage) -> dict[str, Any] | None:
    """What a decided gated write did, from its tool result: {interrupt_id, ran, result} (None for other tools)."""
    try:
        payload = json.loads(_text(message))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload.get("interrupt_id"):
        return None
    result = payload.get("result") or payload.get("error") or "unknown"
    return {"interrupt_id": str(payload["interrupt_id"]), "ran": result in WRITE_DONE, "result": str(result)}


WRITE_DONE = ("cancelled", "refund_requested", "address_updated")


class EventRelay:
    """Forwards one run's stream to the client (coalesced tokens, tool calls) and records its transcript entries."""

    def __init__(
        self, channel: ThreadChannel, coalescer: TokenCoalescer, entries: list[dict[str, Any]], usage: ModelUsage
    ) -> None:
        self.channel = channel
        self.coalescer = coalescer
        self.entries = entries
        self.usage = usage
        self.interrupts: list[Any] = []
        self.tools: list[str] = []
        self.writes: dict[str, dict[str, Any]] = {}  # interrupt id -> what its gated write did (agent/tools.py)
        self.first_token_at: float | None = None  # when the first answer token went to the client (epoch seconds)
        self._current: dict[str, Any] | None = None

    def _entry_for(self, agent: str) -> dict[str, Any]:
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

    def token(self, node: str, message: BaseMessage) -> None:
        """A chunk of a specialist's answer."""
        if node in SPEAKERS and isinstance(message, AIMessageChunk | AIMessage) and (text := _text(message)):
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


class RunStopped(Exception):
    """The customer stopped a run that has written nothing yet: it ends at its next token.

    Raised from TokenTap through langchain-core, which logs a callback warning naming it on its way out.
    """


T = TypeVar("T")


class TokenSink(Protocol):
    """Where a specialist's answer tokens go (EventRelay)."""

    def token(self, node: str, message: BaseMessage) -> None:
        """A chunk of `node`'s answer."""


class TokenTap(BaseCallbackHandler):
    """Hands each token of a specialist's answer to the relay as the model makes it, on the model's own thread.

    LangGraph's stream_mode="messages" does this through a queue: it runs every node on a worker thread and wakes the
    caller's thread once a token. With only "updates" streamed, a step of one task runs on the caller's thread, so a
    turn's tokens cross no thread. Having tap_output_iter makes it a streaming handler, which is what makes a
    model's invoke() stream (langchain-core's _StreamingCallbackHandler protocol, as LangGraph's own handler does).
    """

    raise_error = True  # RunStopped must reach the graph

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
        """Forget the call."""
        self._speakers.pop(run_id, None)
        self._streamed.discard(run_id)

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        """Pass the output through (the streaming handler protocol)."""
        return output

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass the output through (the streaming handler protocol)."""
        return output


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


class TurnRunner:
    """Drives the compiled graph for one task and reports the outcome to the state machine."""

    def __init__(
        self,
        graph: Any,
        sessions: SessionRepository,
        approvals: ApprovalService,
        sender: Sender,
        flush_ms: int = 50,
        tickets: TicketRepository | None = None,
        workflow: TurnWorkflow | None = None,
        transcripts: TranscriptRepository | None = None,
        deliveries: DeliveryStore | None = None,
    ) -> None:
        self.graph = graph
        self.sessions = sessions
        self.approvals = approvals
        self.sender = sender
        self.flush_ms = flush_ms
        self.tickets = tickets
        self.workflow = workflow
        self.transcripts = transcripts
        self.deliveries = deliveries

    def handle(self, task: AgentTask) -> dict[str, Any]:
        """Run or resume the graph; returns {"outcome": "complete"|"interrupted", "interrupt", "approvals"}."""
        turn = task.turn
        now = time.time()
        channel = ThreadChannel(self.sender, self.sessions, turn.thread_id, turn.connection_id, watchers=turn.watchers)
        key = delivery_key(turn.thread_id, turn.incarnation, turn.turn, self._task_key(task))
        earlier = self.deliveries.recall(key) if task.attempt and self.deliveries else None
        if earlier:
            channel.skip_delivered(earlier.text, earlier.events)
        entries: list[dict[str, Any]] = []
        outcome: dict[str, Any] | None = None
        run = int(now * 1000) % 10**13
        try:
            if earlier and earlier.finished:  # the graph already did this task: only the end of the turn is left
                entries, outcome, run = earlier.entries or [], earlier.outcome or {}, earlier.run or run
            else:
                outcome = self._run_graph(task, channel, entries, now)
            return self._finish(task, outcome, channel, entries, run)
        except Exception as exc:
            self._remember(key, channel, entries, outcome, run)
            transient = transient_failure(exc)
            if transient is not None:
                raise transient from exc
            raise

    def _run_graph(
        self, task: AgentTask, channel: ThreadChannel, entries: list[dict[str, Any]], now: float
    ) -> dict[str, Any]:
        """Stream this task's graph run to the client; its outcome (serialisable: the retry may keep it)."""
        turn = task.turn
        graph_input: Any
        if task.task == "run":  # the message function stored the customer's message already
            graph_input = {
                "messages": [*self._handoff_messages(task), *(HumanMessage(text) for text in turn.messages())],
                "customer_id": turn.owner,
                "thread_id": turn.thread_id,
                "turn": turn.turn,
            }
            # The customer's messages are in the transcript already: stored when the turn began or they were queued.
        else:
            graph_input = self._resume_input(task, channel, entries, now)
        # A resumed run checks at once: `cancel` during an approval is what resumed it.
        watch = CancelWatch(self.sessions, turn.thread_id, turn.turn, check_now=task.task == "resume")
        usage = ModelUsage()
        outcome = self._stream(graph_input, task, channel, entries, watch, usage, stop=task.task == "run")
        if watch.cancelled and task.task == "run":
            self._record_cut(turn, graph_input["messages"], entries)
        outcome = self._within_approval_limit(task, outcome, channel, entries, watch, usage)
        return {**outcome, "usage": usage.as_dict()}

    @staticmethod
    def checkpoint_thread(turn: TurnRequest) -> str:
        """The LangGraph thread of this conversation's incarnation (a thread id used again starts afresh)."""
        return f"{turn.thread_id}#{turn.incarnation}" if turn.incarnation else turn.thread_id

    @staticmethod
    def _task_key(task: AgentTask) -> str:
        return f"resume-{task.interrupt.interrupt_id}" if task.task == "resume" and task.interrupt else task.task

    def _remember(
        self,
        key: dict[str, Any],
        channel: ThreadChannel,
        entries: list[dict[str, Any]],
        outcome: dict[str, Any] | None,
        run: int,
    ) -> None:
        """Keep what this failing task delivered (and its outcome, if the graph finished) for the retry."""
        if self.deliveries is None:
            return
        delivery = Delivery(text="".join(channel.delivered_text), events=channel.delivered_events)
        if outcome is not None:
            delivery = delivery.model_copy(update={"entries": entries, "outcome": outcome, "run": run})
        try:
            self.deliveries.remember(key, delivery)
        except Exception:  # the retry then runs again from the checkpoint
            logger.exception("could not keep what the failed task delivered")

    def _resume_input(
        self, task: AgentTask, channel: ThreadChannel, entries: list[dict[str, Any]], now: float
    ) -> Command[Any]:
        decision, info, turn = task.decision, task.interrupt, task.turn
        if decision is None or info is None:
            raise ValueError("a resume task needs the interrupt and the decision")
        # The workflow resumed with this decision, so it is final: the ledger says so (corrected if a decider's record
        # lost to the timeout; idempotent: the decider may have finalized it already).
        subject = AuditSubject(
            interrupt_id=info.interrupt_id,
            thread_id=turn.thread_id,
            owner=turn.owner,
            action=info.action,
            args=canonical_args(info.args),
            description=info.description,
        )
        decision = self.approvals.resolve(subject, decision, now=now)
        ran = decision.args if decision.approved and decision.args else subject.args
        description = (
            describe(info.action, ran, info.order_total, info.items) if ran != subject.args else info.description
        )
        # running again; the customer may have moved to another connection (resume) while the approval waited
        session = self.sessions.mark_running(turn.thread_id, turn.turn, info.interrupt_id, now=now)
        if session:
            channel.follow(session.connection_id)
            channel.watchers = session.live_watchers(now)
        channel.send(
            event(
                "interrupt_resolved",
                turn.thread_id,
                interrupt_id=info.interrupt_id,
                approved=decision.approved,
                decided_by=decision.decided_by,
                outcome=decision.outcome,
                args=ran,
                description=description,
                comment=decision.comment,
            )
        )
        if decision.decided_by == "timeout" and self.tickets is not None:
            # Nobody decided in time: a person follows up on every request that was left waiting.
            ticket = self.tickets.create(
                thread_id=turn.thread_id,
                customer_id=turn.owner,
                summary=f"Approval timed out: {info.description}"[:500],
                idempotency_key=f"timeout:{info.interrupt_id}",
                kind="approval_timeout",
            )
            announce_handoff(channel, entries, ticket.ticket_id)
        entries.append(
            {
                "role": "decision",
                "interrupt_id": info.interrupt_id,
                "action": info.action,
                "args": ran,
                "requested_args": subject.args if ran != subject.args else None,
                "edited_args": decision.edited_args,
                "description": description,
                "approved": decision.approved,
                "decided_by": decision.decided_by,
                "outcome": decision.outcome,
                "comment": decision.comment,
                "at": iso(now),
            }
        )
        return Command(resume=resume_value(info, decision))

    def _handoff_messages(self, task: AgentTask) -> list[BaseMessage]:
        """What the customer and an operator said while the operator held the thread (the model was paused)."""
        turn = task.turn
        if turn.handoff_turn is None or self.transcripts is None:
            return []
        exchange = self.transcripts.handoff_exchange(turn.thread_id, turn.handoff_turn, HANDOFF_CONTEXT_MESSAGES)
        messages: list[BaseMessage] = []
        for entry in exchange:
            if entry["role"] == "operator":
                who = entry.get("operator") or "a support agent"
                messages.append(AIMessage(f"{OPERATOR_PREFIX} {who}: {entry['content']}", name=OPERATOR_NAME))
            else:
                messages.append(HumanMessage(entry["content"]))
        return messages

    def _within_approval_limit(
        self,
        task: AgentTask,
        outcome: dict[str, Any],
        channel: ThreadChannel,
        entries: list[dict[str, Any]],
        watch: CancelWatch,
        usage: ModelUsage,
    ) -> dict[str, Any]:
        """Past MAX_APPROVALS_PER_TURN, refuse further approvals without asking anyone, and say so."""
        if not outcome["interrupt"] or outcome["cancelled"] or task.approvals < MAX_APPROVALS_PER_TURN:
            return outcome
        tools, first_token_at = list(outcome["tools"]), outcome.get("first_token_at")
        for _ in range(LIMIT_ROUNDS):
            asked = outcome["interrupt"]
            refusal = {
                "interrupt_id": asked["interrupt_id"],
                "args_hash": args_hash(asked["args"]),
                "approved": False,
                "decided_by": "limit",
                "comment": LIMIT_COMMENT,
            }
            outcome = self._stream(Command(resume=refusal), task, channel, entries, watch, usage, stop=False)
            tools += outcome["tools"]
            if not outcome["interrupt"] or outcome["cancelled"]:
                break
        speaker = next((e["agent"] for e in reversed(entries) if e.get("role") == "assistant"), "order_actions")
        coalescer = TokenCoalescer(channel, flush_ms=0)
        coalescer.add(speaker, ("\n\n" if entries and entries[-1].get("content") else "") + LIMIT_NOTE)
        coalescer.flush()
        entries.append({"role": "assistant", "agent": speaker, "content": LIMIT_NOTE, "at": iso(time.time())})
        logger.warning("approval limit reached", extra={"thread_id": task.turn.thread_id, "turn": task.turn.turn})
        return {"interrupt": None, "tools": tools, "cancelled": outcome["cancelled"], "first_token_at": first_token_at}

    def _stream(
        self,
        graph_input: Any,
        task: AgentTask,
        channel: ThreadChannel,
        entries: list[dict[str, Any]],
        watch: CancelWatch,
        usage: ModelUsage,
        stop: bool,
    ) -> dict[str, Any]:
        """Stream the graph to the client; once cancelled, send nothing more and (if `stop`) end the run."""
        relay = EventRelay(channel, TokenCoalescer(channel, flush_ms=self.flush_ms), entries, usage)

        def cancelled() -> bool:
            if not watch.cancelled and watch.check():
                relay.cut()
                if stop:  # a new run writes nothing before an approval: it can simply end here
                    raise RunStopped("the customer stopped this answer")
            return watch.cancelled

        config = {
            "configurable": {"thread_id": self.checkpoint_thread(task.turn)},
            "recursion_limit": 40,
            "callbacks": [usage, TokenTap(relay, cancelled)],  # usage: model calls and tokens (agent/usage.py)
        }
        stream = self.graph.stream(graph_input, config, stream_mode="updates", durability="exit")
        try:
            for update in stream:
                if not cancelled():
                    relay.update(update or {})
        except RunStopped:
            stream.close()
        finished = relay.finish(watch.cancelled)
        raw = finished["interrupts"]
        info = self._interrupt_info(raw[0], task.turn) if raw and not finished["cancelled"] else None
        for done in finished["writes"].values():  # the audit says what ran, not only what was decided
            self.approvals.record_result(done["interrupt_id"], done["ran"], done["result"])
        return {
            "interrupt": info,
            "tools": finished["tools"],
            "cancelled": finished["cancelled"],
            "first_token_at": finished["first_token_at"],
        }

    def _interrupt_info(self, raw: Any, turn: TurnRequest) -> dict[str, Any]:
        """What the state machine and the approver need of the graph's interrupt (serialisable)."""
        value = dict(raw.value)
        return InterruptInfo(
            interrupt_id=value.get("interrupt_id") or raw.id,
            action=value["action"],
            args=value["args"],
            description=value["description"],
            approver=value["approver"],
            amount=value.get("amount"),
            order_total=value.get("order_total"),
            items=value.get("items"),
            reason=value.get("reason"),
            context=self._recent_messages(turn),
        ).model_dump()

    def _record_cut(self, turn: TurnRequest, asked: list[BaseMessage], entries: list[dict[str, Any]]) -> None:
        """A stopped run checkpointed nothing: keep the question and the partial answer, marked as cut."""
        said = "".join(e.get("content", "") for e in entries if e.get("role") == "assistant").strip()
        note = CUT_NOTE if not said else f"{said} {CUT_NOTE}"
        speaker = next((e["agent"] for e in reversed(entries) if e.get("role") == "assistant"), SPEAKERS[-1])
        config = {"configurable": {"thread_id": self.checkpoint_thread(turn)}}
        self.graph.update_state(config, {"messages": [*asked, AIMessage(note)]}, as_node=speaker)

    def _finish(
        self,
        task: AgentTask,
        outcome: dict[str, Any],
        channel: ThreadChannel,
        entries: list[dict[str, Any]],
        run: int,
    ) -> dict[str, Any]:
        turn = task.turn
        now = time.time()
        counters: dict[str, int] = {f"tool_{name}": 0 for name in outcome["tools"]}
        for name in outcome["tools"]:
            counters[f"tool_{name}"] += 1
        cancelled = bool(outcome.get("cancelled"))
        if outcome["interrupt"] and not cancelled:
            info = InterruptInfo.model_validate(outcome["interrupt"])
            counters["interrupts_requested"] = 1
            self.sessions.end_run(turn.thread_id, turn.turn, entries, counters, finished=False, now=now, run=run)
            logger.info("turn interrupted", extra={"thread_id": turn.thread_id, "action": info.action})
            return {
                "outcome": "interrupted",
                "interrupt": info.model_dump(),
                "approvals": task.approvals + 1,
                "usage": outcome.get("usage", {}),
                **self._timings(task, outcome),
            }

        counters["turns"] = 1  # the session itself was counted when it was created
        if cancelled:
            counters["turns_cancelled"] = 1
        if task.task == "run":
            counters[analytics.latency_bucket((now - turn.started_at) * 1000)] = 1
        idle = self.sessions.end_run(turn.thread_id, turn.turn, entries, counters, finished=True, now=now, run=run)
        # Not idle: messages were queued behind the turn (they make the next one), or the thread moved on.
        queued = None if idle else self.sessions.advance(turn.thread_id, turn.turn, now)
        channel.send(message_complete_event(turn.thread_id, turn.turn, cancelled=cancelled))
        if queued is not None:
            self._start_queued(turn, *queued)
        logger.info(
            "turn complete",
            extra={
                "thread_id": turn.thread_id,
                "turn": turn.turn,
                "latency_ms": round((now - turn.started_at) * 1000),
                "frames": channel.frames_sent,
            },
        )
        return {
            "outcome": "complete",
            "interrupt": None,
            "approvals": task.approvals,
            "latency_ms": round((now - turn.started_at) * 1000),
            "usage": outcome.get("usage", {}),
            **self._timings(task, outcome),
        }

    @staticmethod
    def _timings(task: AgentTask, outcome: dict[str, Any]) -> dict[str, Any]:
        """For the metrics: the tools called, and (a new turn's) time from the customer's message to the first token."""
        first = outcome.get("first_token_at")
        started = task.turn.started_at
        return {
            "tools": list(outcome["tools"]),
            "first_token_ms": round((first - started) * 1000) if first is not None and task.task == "run" else None,
        }

    def _start_queued(self, previous: TurnRequest, session: Session, queued: list[QueuedMessage]) -> None:
        """The messages that waited behind `previous` make the next turn: a new execution, as a message would."""
        contents = [q.content for q in queued]
        request = TurnRequest(
            thread_id=previous.thread_id,
            turn=session.turn,
            owner=previous.owner,
            content="\n\n".join(contents),
            connection_id=session.connection_id,
            message_id=session.last_message_id or None,
            started_at=time.time(),
            queued=contents,
            watchers=session.live_watchers(time.time()),
            incarnation=session.incarnation,
        )
        try:
            if self.workflow is None:
                raise RuntimeError("no workflow to start the queued turn with")
            self.workflow.start(request)
        except Exception:
            logger.exception("queued turn did not start", extra={"thread_id": request.thread_id, "turn": request.turn})
            self.sessions.finish_turn(request.thread_id, request.turn)
            failed = InternalError("Your next message could not be answered; please send it again.")
            ThreadChannel.for_session(self.sender, self.sessions, session).send(error_event(failed, request.thread_id))
            return
        logger.info("queued turn started", extra={"thread_id": request.thread_id, "turn": request.turn})

    def _recent_messages(self, turn: TurnRequest) -> list[dict[str, str]]:
        """The last few customer and assistant messages, shown to whoever decides the approval."""
        state = self.graph.get_state({"configurable": {"thread_id": self.checkpoint_thread(turn)}})
        recent: list[dict[str, str]] = []
        for message in reversed(state.values.get("messages", [])):
            text = _text(message).strip()
            if isinstance(message, HumanMessage | AIMessage) and text:
                role = "user" if isinstance(message, HumanMessage) else "assistant"
                if message.name == "operator":
                    role = "operator"
                recent.append({"role": role, "content": text[:CONTEXT_CHARS]})
            if len(recent) == CONTEXT_MESSAGES:
                break
        return recent[::-1]
