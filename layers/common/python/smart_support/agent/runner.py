"""Runs one agent task (a turn or its resumption): streams events, stores the transcript, finishes the turn."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langgraph.types import Command

from smart_support import aws
from smart_support.agent.nodes import AGENT_NODES, SPECIALISTS
from smart_support.clock import iso
from smart_support.protocol.events import event, message_complete_event, tool_call_event
from smart_support.store import analytics
from smart_support.store.dynamodb import StoreError
from smart_support.store.ports import SessionRepository, TicketRepository
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, Decision, InterruptInfo
from smart_support.turns.policy import args_hash
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


CONTEXT_MESSAGES = 4
CONTEXT_CHARS = 400


class ThrottlingError(Exception):
    """The model provider throttled us past the client's own retries (the state machine retries it)."""


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def resume_value(info: InterruptInfo, decision: Decision) -> dict[str, Any]:
    """The graph's resume value: the decision bound to the interrupt it answers (id and arguments' hash)."""
    if decision.interrupt_id not in (None, info.interrupt_id):
        raise ValueError("the decision answers another approval")
    return {
        "interrupt_id": info.interrupt_id,
        "args_hash": decision.args_hash or args_hash(info.args),
        "approved": decision.approved,
        "decided_by": decision.decided_by,
        "comment": decision.comment,
        "edited_args": decision.edited_args if decision.approved else None,
    }


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
    ) -> None:
        self.graph = graph
        self.sessions = sessions
        self.approvals = approvals
        self.sender = sender
        self.flush_ms = flush_ms
        self.tickets = tickets

    def handle(self, task: AgentTask) -> dict[str, Any]:
        """Run or resume the graph; returns {"outcome": "complete"|"interrupted", "interrupt": ...}."""
        turn = task.turn
        now = time.time()
        channel = ThreadChannel(self.sender, self.sessions, turn.thread_id, turn.connection_id)
        entries: list[dict[str, Any]] = []
        graph_input: Any
        if task.task == "run":
            graph_input = {
                "messages": [HumanMessage(turn.content)],
                "customer_id": turn.owner,
                "thread_id": turn.thread_id,
            }
            entries.append({"role": "user", "content": turn.content, "at": iso(turn.started_at)})
        else:
            graph_input = self._resume_input(task, channel, entries, now)

        try:
            outcome = self._stream(graph_input, turn.thread_id, channel, entries)
            return self._finish(task, outcome, channel, entries)
        except (ClientError, StoreError) as exc:
            code = exc.code if isinstance(exc, StoreError) else aws.error_code(exc)
            if code in THROTTLING_CODES:
                raise ThrottlingError(str(exc)) from exc
            raise

    def _resume_input(
        self, task: AgentTask, channel: ThreadChannel, entries: list[dict[str, Any]], now: float
    ) -> Command[Any]:
        decision, info, turn = task.decision, task.interrupt, task.turn
        if decision is None or info is None:
            raise ValueError("a resume task needs the interrupt and the decision")
        if decision.decided_by == "timeout":
            self.approvals.expire(info.interrupt_id, now=now)
            session = self.sessions.mark_running(turn.thread_id, turn.turn, info.interrupt_id, now=now)
        else:  # the customer may have moved to another connection (resume) while the approval waited
            session = self.sessions.get(turn.thread_id)
        if session:
            channel.follow(session.connection_id)
        channel.send(
            event(
                "interrupt_resolved",
                turn.thread_id,
                interrupt_id=info.interrupt_id,
                approved=decision.approved,
                decided_by=decision.decided_by,
            )
        )
        if decision.decided_by == "timeout" and self.tickets is not None:
            # Nobody decided in time: a person follows up on every request that was left waiting.
            self.tickets.create(
                thread_id=turn.thread_id,
                customer_id=turn.owner,
                summary=f"Approval timed out: {info.description}"[:500],
                idempotency_key=f"timeout:{info.interrupt_id}",
                kind="approval_timeout",
            )
        entries.append(
            {
                "role": "decision",
                "interrupt_id": info.interrupt_id,
                "action": info.action,
                "args": info.args,
                "edited_args": decision.edited_args,
                "description": info.description,
                "approved": decision.approved,
                "decided_by": decision.decided_by,
                "comment": decision.comment,
                "at": iso(now),
            }
        )
        return Command(resume=resume_value(info, decision))

    def _stream(
        self, graph_input: Any, thread_id: str, channel: ThreadChannel, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        coalescer = TokenCoalescer(channel, flush_ms=self.flush_ms)
        config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 40}
        interrupts: list[Any] = []
        tools_used: list[str] = []
        current: dict[str, Any] | None = None

        def entry_for(agent: str) -> dict[str, Any]:
            nonlocal current
            if current is None or current["agent"] != agent:
                current = {"role": "assistant", "agent": agent, "content": "", "tool_calls": [], "at": iso(time.time())}
                entries.append(current)
            return current

        for mode, chunk in self.graph.stream(
            graph_input, config, stream_mode=["messages", "updates"], durability="exit"
        ):
            if mode == "messages":
                message, metadata = chunk
                node = metadata.get("langgraph_node")
                if node in SPEAKERS and isinstance(message, AIMessageChunk | AIMessage):
                    text = _text(message)
                    if text:
                        coalescer.add(node, text)
                        entry_for(node)["content"] += text
                continue
            for node, update in (chunk or {}).items():
                if node == "__interrupt__":
                    interrupts.extend(update)
                    continue
                if node not in AGENT_NODES or not isinstance(update, dict):
                    continue
                for message in update.get("messages", []) or []:
                    if isinstance(message, AIMessage) and message.tool_calls:
                        coalescer.flush()
                        for call in message.tool_calls:
                            channel.send(tool_call_event(thread_id, call["name"], call["args"], node))
                            entry_for(node)["tool_calls"].append({"tool": call["name"], "args": call["args"]})
                            tools_used.append(call["name"])
        coalescer.flush()
        for entry in entries:
            if entry.get("role") == "assistant" and not entry["tool_calls"]:
                entry.pop("tool_calls")
        return {"interrupts": interrupts, "tools": tools_used}

    def _finish(
        self, task: AgentTask, outcome: dict[str, Any], channel: ThreadChannel, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        turn = task.turn
        now = time.time()
        counters: dict[str, int] = {f"tool_{name}": 0 for name in outcome["tools"]}
        for name in outcome["tools"]:
            counters[f"tool_{name}"] += 1
        if outcome["interrupts"]:
            raw = outcome["interrupts"][0]
            value = dict(raw.value)
            info = InterruptInfo(
                interrupt_id=value.get("interrupt_id") or raw.id,
                action=value["action"],
                args=value["args"],
                description=value["description"],
                approver=value["approver"],
                amount=value.get("amount"),
                order_total=value.get("order_total"),
                reason=value.get("reason"),
                context=self._recent_messages(turn.thread_id),
            )
            counters["interrupts_requested"] = 1
            self.sessions.end_run(turn.thread_id, turn.turn, entries, counters, finished=False, now=now)
            logger.info("turn interrupted", extra={"thread_id": turn.thread_id, "action": info.action})
            return {"outcome": "interrupted", "interrupt": info.model_dump()}

        counters["turns"] = 1
        if task.task == "run":
            counters[analytics.latency_bucket((now - turn.started_at) * 1000)] = 1
            if turn.turn == 1:
                counters["sessions"] = 1
        if not self.sessions.end_run(turn.thread_id, turn.turn, entries, counters, finished=True, now=now):
            logger.warning("session changed under the turn", extra={"thread_id": turn.thread_id, "turn": turn.turn})
        channel.send(message_complete_event(turn.thread_id, turn.turn))
        logger.info(
            "turn complete",
            extra={
                "thread_id": turn.thread_id,
                "turn": turn.turn,
                "latency_ms": round((now - turn.started_at) * 1000),
                "frames": channel.frames_sent,
            },
        )
        return {"outcome": "complete", "interrupt": None, "latency_ms": round((now - turn.started_at) * 1000)}

    def _recent_messages(self, thread_id: str) -> list[dict[str, str]]:
        """The last few customer and assistant messages, shown to whoever decides the approval."""
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        recent: list[dict[str, str]] = []
        for message in reversed(state.values.get("messages", [])):
            text = _text(message).strip()
            if isinstance(message, HumanMessage | AIMessage) and text:
                role = "user" if isinstance(message, HumanMessage) else "assistant"
                recent.append({"role": role, "content": text[:CONTEXT_CHARS]})
            if len(recent) == CONTEXT_MESSAGES:
                break
        return recent[::-1]
