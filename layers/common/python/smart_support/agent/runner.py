"""Runs one agent task (a turn or its resumption): streams events, stores the transcript, finishes the turn.

The run's parts live beside it: `relay` (the stream to the client), `cancel` (the customer's Stop), `interrupts`
(approvals asked and resumed, the turn's limit), `handoff` (a person asked for, the operator's exchange read back),
`next_turn` (the queued messages' turn) and `retry` (a failed attempt, for the state machine's retry).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from langchain_core.messages import HumanMessage
from langgraph.types import Command

from smart_support.agent.cancel import CancelWatch, RunStopped, record_cut
from smart_support.agent.citations import Citation, turn_citations
from smart_support.agent.handoff import handoff_messages
from smart_support.agent.interrupts import interrupt_info, resume_command, within_approval_limit
from smart_support.agent.next_turn import start_queued_turn
from smart_support.agent.relay import EventRelay, TokenTap
from smart_support.agent.retry import attempt_key, remember_delivered, transient_failure
from smart_support.agent.usage import ModelUsage
from smart_support.protocol.events import message_complete_event
from smart_support.store import analytics
from smart_support.store.ports import (
    DeliveryRepository,
    SessionRepository,
    TicketRepository,
    TranscriptRepository,
)
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, InterruptInfo, TurnRequest
from smart_support.turns.stepfunctions import TurnWorkflow
from smart_support.turns.streaming import Sender, ThreadChannel, TokenCoalescer

if TYPE_CHECKING:
    from smart_support.store.transcript import TranscriptEntry

logger = Logger(child=True)


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
        deliveries: DeliveryRepository | None = None,
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
        key = attempt_key(task)
        earlier = self.deliveries.recall(key) if task.attempt and self.deliveries else None
        if earlier:
            channel.skip_delivered(earlier.text, earlier.events, whole=earlier.finished)
        entries: list[TranscriptEntry] = []
        outcome: dict[str, Any] | None = None
        run = int(now * 1000) % 10**13
        try:
            if earlier and earlier.finished:  # the graph already did this task: only the end of the turn is left
                # the entries as remember_delivered kept them
                entries = cast("list[TranscriptEntry]", earlier.entries or [])
                outcome, run = earlier.outcome or {}, earlier.run or run
            else:
                outcome = self._run_graph(task, channel, entries, now)
            return self._finish(task, outcome, channel, entries, run)
        except Exception as exc:
            remember_delivered(self.deliveries, key, channel, entries, outcome, run)
            transient = transient_failure(exc)
            if transient is not None:
                raise transient from exc
            raise

    def _run_graph(
        self, task: AgentTask, channel: ThreadChannel, entries: list[TranscriptEntry], now: float
    ) -> dict[str, Any]:
        """Stream this task's graph run to the client; its outcome (serialisable: the retry may keep it)."""
        turn = task.turn
        graph_input: Any
        if task.task == "run":  # the message function stored the customer's message already
            graph_input = {
                "messages": [
                    *handoff_messages(self.transcripts, turn),
                    *(HumanMessage(text) for text in turn.messages()),
                ],
                "customer_id": turn.owner,
                "thread_id": turn.thread_id,
                "turn": turn.turn,
            }
            # The customer's messages are in the transcript already: stored when the turn began or they were queued.
        else:
            graph_input = resume_command(
                task, channel, entries, now, approvals=self.approvals, sessions=self.sessions, tickets=self.tickets
            )
        # A resumed run checks at once: `cancel` during an approval is what resumed it.
        watch = CancelWatch(self.sessions, turn.thread_id, turn.turn, check_now=task.task == "resume")
        usage = ModelUsage()
        citations: list[Citation] = []
        outcome = self._stream(graph_input, task, channel, entries, watch, usage, citations, stop=task.task == "run")
        if watch.cancelled and task.task == "run":
            record_cut(self.graph, self.checkpoint_thread(turn), graph_input["messages"], entries)

        def refuse(command: Command[Any]) -> dict[str, Any]:
            return self._stream(command, task, channel, entries, watch, usage, citations, stop=False)

        outcome = within_approval_limit(task, outcome, refuse, channel, entries)
        if task.task == "resume" and not outcome["interrupt"]:
            citations = self._turn_citations(turn)  # the turn's searches ran before its approval, in another run
        return {**outcome, "usage": usage.as_dict(), "citations": citations}

    def _turn_citations(self, turn: TurnRequest) -> list[Citation]:
        """The articles searched in the whole turn, from its checkpoint (one read, on a resumed turn's last run)."""
        state = self.graph.get_state({"configurable": {"thread_id": self.checkpoint_thread(turn)}})
        return turn_citations(list((state.values or {}).get("messages", [])))

    @staticmethod
    def checkpoint_thread(turn: TurnRequest) -> str:
        """The LangGraph thread of this conversation's incarnation (a thread id used again starts afresh)."""
        return f"{turn.thread_id}#{turn.incarnation}" if turn.incarnation else turn.thread_id

    def _stream(
        self,
        graph_input: Any,
        task: AgentTask,
        channel: ThreadChannel,
        entries: list[TranscriptEntry],
        watch: CancelWatch,
        usage: ModelUsage,
        citations: list[Citation],
        stop: bool,
    ) -> dict[str, Any]:
        """Stream the graph to the client; once cancelled, send nothing more and (if `stop`) end the run."""
        relay = EventRelay(channel, TokenCoalescer(channel, flush_ms=self.flush_ms), entries, usage, citations)

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
        info = (
            interrupt_info(raw[0], self.graph, self.checkpoint_thread(task.turn))
            if raw and not finished["cancelled"]
            else None
        )
        for done in finished["writes"].values():  # the audit says what ran, not only what was decided
            self.approvals.record_result(done["interrupt_id"], done["ran"], done["result"])
        return {
            "interrupt": info,
            "tools": finished["tools"],
            "cancelled": finished["cancelled"],
            "first_token_at": finished["first_token_at"],
        }

    def _finish(
        self,
        task: AgentTask,
        outcome: dict[str, Any],
        channel: ThreadChannel,
        entries: list[TranscriptEntry],
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
        channel.send(
            message_complete_event(turn.thread_id, turn.turn, cancelled=cancelled, citations=outcome.get("citations"))
        )
        if queued is not None:
            session, messages = queued
            start_queued_turn(
                turn, session, messages, workflow=self.workflow, sessions=self.sessions, sender=self.sender
            )
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
