"""Human hand-off: an operator takes a thread over, talks with the customer in it, and hands it back to the AI."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from smart_support.auth.tokens import Principal
from smart_support.clock import iso
from smart_support.protocol.errors import Forbidden, NotFound, SessionExpired, ThreadBusy, ThreadNotHeld, TicketConflict
from smart_support.protocol.events import (
    customer_message_event,
    handoff_event,
    operator_message_event,
)
from smart_support.store.analytics import join_bucket
from smart_support.store.handoffs import HandoffConflict
from smart_support.store.sessions import Session
from smart_support.store.tickets import Ticket, TicketStatus, ticket_id_for
from smart_support.turns.streaming import Sender, ThreadChannel

if TYPE_CHECKING:
    from smart_support.store.ports import HandoffRepository, SessionRepository, TicketRepository
    from smart_support.store.transcript import TranscriptEntry

logger = Logger(child=True)

REQUESTED_KINDS = ("escalation", "approval_timeout")  # tickets someone waited on (time to join is measured)


class StillHeld(Exception):
    """The thread is no longer with an operator: the customer's message starts a turn after all."""


class HandoffService:
    """Tickets, takeover, operator and customer messages while held, release, and watching a thread."""

    def __init__(
        self, sessions: SessionRepository, tickets: TicketRepository, handoffs: HandoffRepository, sender: Sender
    ) -> None:
        self.sessions = sessions
        self.tickets = tickets
        self.handoffs = handoffs
        self.sender = sender

    # ---------------------------------------------------------------- operators
    def take_over(self, thread_id: str, operator: Principal, now: float | None = None) -> tuple[Session, Ticket]:
        """The operator joins: the thread is held (no model runs), its ticket assigned (one opened if none)."""
        now = time.time() if now is None else now
        session = self.sessions.get_visible(thread_id, operator.sub, is_operator=True, now=now)
        if session.held_by(operator.sub):  # a repeated takeover changes nothing
            ticket = self.tickets.get(session.ticket_id or "")
            if ticket is not None:
                return session, ticket
        self._check_idle(session)
        stamp = iso(now)
        counters = {"handoffs_joined": 1}
        current = self.tickets.get(session.ticket_id) if session.ticket_id else None
        if current is not None and current.status != "closed":
            read_version: int | None = current.version
            if current.joined_at is None and current.kind in REQUESTED_KINDS:
                counters[join_bucket(now - _epoch(current.created_at))] = 1
            ticket = current
        else:
            read_version = None
            ticket = Ticket(
                ticket_id=ticket_id_for(thread_id, f"takeover:{now}"),
                thread_id=thread_id,
                customer_id=session.owner,
                summary=f"{operator.display_name} joined the conversation",
                kind="takeover",
                created_at=stamp,
                version=0,
            )
        assigned = ticket.model_copy(
            update={
                "status": "assigned",
                "assignee": operator.sub,
                "assignee_name": operator.display_name,
                "assigned_at": stamp,
                "joined_at": ticket.joined_at or stamp,
                "updated_at": stamp,
                "version": ticket.version + 1,
            }
        )
        entry = _system_entry("joined", assigned.ticket_id, operator.display_name, stamp)
        try:
            self.handoffs.take_over(session, assigned, read_version, entry, counters, now)
        except HandoffConflict as exc:
            latest = self.sessions.get_visible(thread_id, operator.sub, is_operator=True, now=now)
            self._check_idle(latest)
            raise ThreadBusy("The conversation changed meanwhile; please try again.") from exc
        held = session.model_copy(
            update={
                "status": "with_operator",
                "operator_id": operator.sub,
                "operator_name": operator.display_name,
                "held_since": stamp,
                "ticket_id": assigned.ticket_id,
            }
        )
        ThreadChannel.for_session(self.sender, self.sessions, held).send(
            handoff_event(thread_id, "joined", assigned.ticket_id, operator.display_name, at=stamp)
        )
        logger.info("operator joined", extra={"thread_id": thread_id, "operator": operator.sub})
        return held, assigned

    def post_message(
        self, thread_id: str, operator: Principal, content: str, now: float | None = None
    ) -> dict[str, object]:
        """The holding operator speaks: stored in the transcript (role operator), sent to the customer."""
        now = time.time() if now is None else now
        session = self.sessions.get_visible(thread_id, operator.sub, is_operator=True, now=now)
        if not session.held_by(operator.sub):
            raise ThreadNotHeld(_not_held_message(session))
        stamp = iso(now)
        message_id = f"om-{uuid.uuid4().hex[:20]}"
        entry: TranscriptEntry = {
            "role": "operator",
            "content": content,
            "operator": operator.display_name,
            "operator_id": operator.sub,
            "message_id": message_id,
            "handoff": True,
            "at": stamp,
        }
        try:
            self.handoffs.add_message(session, entry, now, operator_id=operator.sub)
        except HandoffConflict as exc:
            latest = self.sessions.get_visible(thread_id, operator.sub, is_operator=True, now=now)
            raise ThreadNotHeld(_not_held_message(latest)) from exc
        payload = operator_message_event(thread_id, message_id, content, operator.display_name, stamp)
        ThreadChannel.for_session(self.sender, self.sessions, session).send(payload)
        return payload

    def release(
        self, thread_id: str, operator: Principal, note: str | None = None, now: float | None = None
    ) -> tuple[Session, Ticket]:
        """Back to the AI: idle, the ticket closed (with the note), the customer told; the model reads the exchange."""
        now = time.time() if now is None else now
        for _ in range(2):  # a note added to the ticket meanwhile changes its version: read it again once
            session = self.sessions.get_visible(thread_id, operator.sub, is_operator=True, now=now)
            if not session.held_by(operator.sub):
                raise ThreadNotHeld(_not_held_message(session))
            found = self.tickets.get(session.ticket_id or "")
            ticket = found or _lost_ticket(session, now)
            closed = self._closed(ticket, operator, note, now)
            entry = _system_entry("returned", ticket.ticket_id, operator.display_name, iso(now))
            try:
                self.handoffs.release(session, closed, found.version if found else None, entry, now)
                break
            except HandoffConflict:
                continue
        else:
            raise TicketConflict()
        back = session.model_copy(
            update={
                "status": "idle",
                "operator_id": None,
                "operator_name": None,
                "held_since": None,
                "ticket_id": None,
                "context_turn": session.turn,
            }
        )
        ThreadChannel.for_session(self.sender, self.sessions, session).send(
            handoff_event(thread_id, "returned", ticket.ticket_id, operator.display_name, at=iso(now))
        )
        logger.info("operator released", extra={"thread_id": thread_id, "operator": operator.sub})
        return back, closed

    def update_ticket(
        self,
        ticket_id: str,
        operator: Principal,
        status: TicketStatus | None = None,
        note: str | None = None,
        now: float | None = None,
    ) -> Ticket:
        """Assign to oneself, put back to open, close, or add an internal note (never shown to the customer)."""
        now = time.time() if now is None else now
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("No ticket with that id.")
        stamp = iso(now)
        updated = ticket.with_note(note, operator.sub, operator.display_name, now) if note else ticket
        session: Session | None = None
        if status and status != ticket.status:
            if ticket.status == "closed":
                raise TicketConflict("This ticket is closed.")
            session = self._linked_session(ticket, now)
            if session is not None and session.status == "with_operator":
                raise TicketConflict(
                    f"{session.operator_name} holds this conversation: hand it back before changing the ticket."
                )
            changes: dict[str, Any] = {"status": status, "updated_at": stamp}
            if status == "assigned":
                changes.update(assignee=operator.sub, assignee_name=operator.display_name, assigned_at=stamp)
            elif status == "open":
                changes.update(assignee=None, assignee_name=None, assigned_at=None)
            else:
                changes.update(closed_at=stamp, closed_by=operator.sub)
            updated = updated.model_copy(update=changes)
        elif not note:
            return ticket
        else:
            updated = updated.model_copy(update={"updated_at": stamp})
        if updated.status == "closed" and ticket.status != "closed":
            saved = updated.model_copy(update={"version": ticket.version + 1})
            entry = _system_entry("returned", ticket_id, None, stamp, closed=True)
            try:
                self.handoffs.close_ticket(saved, ticket.version, session, entry, now)
            except HandoffConflict as exc:
                raise TicketConflict() from exc
            if session is not None:
                ThreadChannel.for_session(self.sender, self.sessions, session).send(
                    handoff_event(session.thread_id, "returned", ticket_id, None, at=stamp, closed=True)
                )
            return saved
        return self.tickets.save(updated, ticket.version)

    # ---------------------------------------------------------------- the customer, while an operator holds the thread
    def customer_message(
        self,
        session: Session,
        content: str,
        message_id: str | None,
        connection_id: str | None,
        now: float | None = None,
    ) -> dict[str, object]:
        """Store the customer's message for the operator (no model runs), tell the watchers; StillHeld if released.

        A `message_id` the thread already took writes nothing: the same content is answered with the status again,
        other content is ValidationFailed.
        """
        now = time.time() if now is None else now
        stamp = iso(now)
        shown_id = message_id or f"cm-{uuid.uuid4().hex[:20]}"
        entry: TranscriptEntry = {
            "role": "user",
            "content": content,
            "message_id": shown_id,
            "handoff": True,
            "at": stamp,
        }
        for _ in range(3):  # another message of the customer's stored meanwhile: read the session again
            if session.is_repeat(message_id, content):
                return session.status_event()  # a retried frame: stored the first time
            try:
                self.handoffs.add_message(session, entry, now, message_id=message_id, connection_id=connection_id)
                break
            except HandoffConflict as exc:
                latest = self.sessions.get(session.thread_id)
                if latest is None or latest.owner != session.owner:
                    raise NotFound("No conversation with that id.") from exc
                if latest.expired(now):
                    raise SessionExpired() from exc
                if latest.status != "with_operator" and not latest.is_repeat(message_id, content):
                    raise StillHeld() from exc
                session = latest
        else:
            raise ThreadBusy("The conversation changed meanwhile; please send your message again.")
        ThreadChannel.for_session(self.sender, self.sessions, session).send_to_watchers(
            customer_message_event(session.thread_id, shown_id, content, stamp)
        )
        return session.model_copy(update={"connection_id": connection_id or session.connection_id}).status_event()

    # ---------------------------------------------------------------- watching
    def watch(self, thread_id: str, principal: Principal, connection_id: str, now: float | None = None) -> Session:
        """An operator connection receives the thread's events from now on."""
        if not principal.is_operator:
            raise Forbidden("Only operators may watch a conversation.")
        return self.sessions.add_watcher(thread_id, connection_id, now=now, until=principal.expires_at)

    def unwatch(self, thread_id: str, principal: Principal, connection_id: str, now: float | None = None) -> Session:
        """Stop sending the thread's events to this operator connection."""
        if not principal.is_operator:
            raise Forbidden("Only operators may watch a conversation.")
        session = self.sessions.remove_watcher(thread_id, connection_id)
        return session or self.sessions.get_visible(thread_id, principal.sub, is_operator=True, now=now)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _check_idle(session: Session) -> None:
        if session.status == "with_operator":
            raise ThreadBusy(f"{session.operator_name or 'Another operator'} already holds this conversation.")
        if session.status != "idle":
            raise ThreadBusy(
                "The assistant is answering or waiting for an approval in this conversation; join when it is done."
            )

    def _linked_session(self, ticket: Ticket, now: float) -> Session | None:
        session = self.sessions.get(ticket.thread_id)
        if session is None or session.expired(now) or session.ticket_id != ticket.ticket_id:
            return None
        return session

    @staticmethod
    def _closed(ticket: Ticket, operator: Principal, note: str | None, now: float) -> Ticket:
        stamp = iso(now)
        closed = ticket.with_note(note, operator.sub, operator.display_name, now) if note else ticket
        return closed.model_copy(
            update={
                "status": "closed",
                "closed_at": stamp,
                "closed_by": operator.sub,
                "updated_at": stamp,
                "version": ticket.version + 1,
            }
        )


def _system_entry(
    state: str, ticket_id: str, operator: str | None, stamp: str, *, closed: bool = False
) -> TranscriptEntry:
    """A hand-off event as a transcript entry (role `system`)."""
    entry: TranscriptEntry = {"role": "system", "event": "handoff", "state": state, "ticket_id": ticket_id, "at": stamp}
    if closed:
        entry["closed"] = True
    if operator:
        entry["operator"] = operator
    return entry


def _not_held_message(session: Session) -> str:
    if session.status == "with_operator":
        return f"{session.operator_name or 'Another operator'} holds this conversation, not you."
    return "You do not hold this conversation: take it over first."


def _lost_ticket(session: Session, now: float) -> Ticket:
    """A stand-in when a held thread's ticket is missing (never expected: tickets are never deleted)."""
    return Ticket(
        ticket_id=session.ticket_id or ticket_id_for(session.thread_id, f"lost:{now}"),
        thread_id=session.thread_id,
        customer_id=session.owner,
        summary="Conversation held by an operator",
        kind="takeover",
        created_at=session.held_since or iso(now),
        version=0,
    )


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
