"""A run's approvals, the graph's side: the interrupt it stops at (what the approver is shown), and what it resumes
with: a person's decision (bound to the interrupt it answers) or, past the turn's limit, a refusal nobody was asked
for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from smart_support.agent.handoff import announce_handoff
from smart_support.agent.relay import message_text
from smart_support.clock import iso
from smart_support.protocol.events import event
from smart_support.store.approvals import AuditSubject
from smart_support.store.ports import SessionRepository, TicketRepository
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.models import AgentTask, Decision, InterruptInfo
from smart_support.turns.policy import args_hash, canonical_args, describe
from smart_support.turns.streaming import ThreadChannel, TokenCoalescer

if TYPE_CHECKING:
    from smart_support.store.transcript import TranscriptEntry

logger = Logger(child=True)

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


# ---------------------------------------------------------------- the graph asks


def interrupt_info(raw: Any, graph: Any, checkpoint_thread: str) -> dict[str, Any]:
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
        context=recent_messages(graph, checkpoint_thread),
    ).model_dump()


def recent_messages(graph: Any, checkpoint_thread: str) -> list[dict[str, str]]:
    """The last few customer and assistant messages, shown to whoever decides the approval."""
    state = graph.get_state({"configurable": {"thread_id": checkpoint_thread}})
    recent: list[dict[str, str]] = []
    for message in reversed(state.values.get("messages", [])):
        text = message_text(message).strip()
        if isinstance(message, HumanMessage | AIMessage) and text:
            role = "user" if isinstance(message, HumanMessage) else "assistant"
            if message.name == "operator":
                role = "operator"
            recent.append({"role": role, "content": text[:CONTEXT_CHARS]})
        if len(recent) == CONTEXT_MESSAGES:
            break
    return recent[::-1]


# ---------------------------------------------------------------- a person decided


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


def resume_command(
    task: AgentTask,
    channel: ThreadChannel,
    entries: list[TranscriptEntry],
    now: float,
    *,
    approvals: ApprovalService,
    sessions: SessionRepository,
    tickets: TicketRepository | None,
) -> Command[Any]:
    """The decision the workflow resumed with, made final, told to the thread and kept; the graph's resume command."""
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
    decision = approvals.resolve(subject, decision, now=now)
    ran = decision.args if decision.approved and decision.args else subject.args
    description = describe(info.action, ran, info.order_total, info.items) if ran != subject.args else info.description
    # running again; the customer may have moved to another connection (resume) while the approval waited
    session = sessions.mark_running(turn.thread_id, turn.turn, info.interrupt_id, now=now)
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
    if decision.decided_by == "timeout" and tickets is not None:
        # Nobody decided in time: a person follows up on every request that was left waiting.
        ticket = tickets.create(
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


# ---------------------------------------------------------------- past the turn's limit


def within_approval_limit(
    task: AgentTask,
    outcome: dict[str, Any],
    resume: Callable[[Command[Any]], dict[str, Any]],
    channel: ThreadChannel,
    entries: list[TranscriptEntry],
) -> dict[str, Any]:
    """Past MAX_APPROVALS_PER_TURN, refuse further approvals without asking anyone (`resume` streams the graph on
    with each refusal), and say so."""
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
        outcome = resume(Command(resume=refusal))
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
