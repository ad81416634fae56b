"""What the domain needs of each table, as Protocols: turns/, agent/ and api/ depend on these, services.py hands them
the DynamoDB stores of this package, and tests may hand them in-memory fakes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing the ports loads no store (light functions stay light)
    from collections.abc import Callable

    from smart_support.store.approvals import AuditSubject, PendingApproval
    from smart_support.store.deliveries import Delivery
    from smart_support.store.items import Item
    from smart_support.store.orders import Order
    from smart_support.store.sessions import QueuedMessage, Session
    from smart_support.store.tickets import Ticket, TicketKind, TicketStatus
    from smart_support.store.transcript import TranscriptEntry
    from smart_support.turns.models import Decision


class SessionReader(Protocol):
    """What streaming needs of sessions: where the client is now, who watches, forgetting a watcher that left."""

    def get(self, thread_id: str) -> Session | None:
        """The session item, expired or not (None when absent)."""

    def remove_watcher(self, thread_id: str, connection_id: str) -> Session | None:
        """Stop sending the thread's events to `connection_id` (None when it was not watching)."""


class SessionRepository(SessionReader, Protocol):
    """Sessions: ownership, status, sliding TTL, and the end of each agent run."""

    def get_visible(
        self, thread_id: str, principal_id: str, *, is_operator: bool = False, now: float | None = None
    ) -> Session:
        """The session if this principal may see it; NotFound otherwise, SessionExpired past its TTL."""

    def list_for_owner(self, owner: str, limit: int = 50) -> list[Session]:
        """The owner's threads, most recently active first."""

    def begin_turn(
        self,
        thread_id: str,
        owner: str,
        connection_id: str | None,
        message_id: str | None = None,
        now: float | None = None,
        title: str | None = None,
        content: str | None = None,
    ) -> Session:
        """Create or load the session and mark it running; NotFound, SessionExpired, ThreadBusy or DuplicateMessage
        (ValidationFailed for a message_id the thread took with other content)."""

    def check_owner(self, thread_id: str, principal_id: str, *, is_operator: bool = False) -> None:
        """NotFound unless the principal owns the thread (as long as its transcript is kept) or is an operator."""

    def finish_turn(self, thread_id: str, turn: int, now: float | None = None) -> Session | None:
        """Back to idle after `turn`; None if the thread moved on or is gone."""

    def end_run(
        self,
        thread_id: str,
        turn: int,
        entries: list[TranscriptEntry],
        counters: dict[str, int],
        *,
        finished: bool,
        now: float,
        run: int | None = None,
    ) -> bool:
        """Store a run's transcript and counters (and, once finished, go idle) at once; False if the thread moved on."""

    def mark_awaiting_approval(
        self, thread_id: str, turn: int, interrupt_id: str, approval_expires_at: float, now: float | None = None
    ) -> Session | None:
        """The turn waits for a human; None if the thread moved on."""

    def enqueue(
        self,
        thread_id: str,
        owner: str,
        content: str,
        message_id: str | None,
        transcript_item: Callable[[int], Item],
        now: float | None = None,
    ) -> Session:
        """Queue a message behind the running turn (and store it in the transcript); ThreadBusy when full."""

    def advance(
        self, thread_id: str, turn: int, now: float | None = None
    ) -> tuple[Session, list[QueuedMessage]] | None:
        """`turn` ended with messages queued: they become turn + 1, running (None if the thread moved on)."""

    def request_cancel(self, thread_id: str, owner: str, now: float | None = None) -> Session:
        """Ask the running turn to stop; returns the session."""

    def cancel_requested(self, thread_id: str, turn: int) -> bool:
        """True once `cancel` asked this turn to stop."""

    def mark_running(
        self, thread_id: str, turn: int, interrupt_id: str, now: float | None = None, *, awaiting_only: bool = False
    ) -> Session | None:
        """A decision on `interrupt_id` arrived: the turn runs again; None if the thread moved on (or, with
        `awaiting_only`, no longer waits for it)."""

    def attach_connection(self, thread_id: str, owner: str, connection_id: str, now: float | None = None) -> Session:
        """Send this thread's events to `connection_id` from now on."""

    def add_watcher(
        self, thread_id: str, connection_id: str, now: float | None = None, until: int | None = None
    ) -> Session:
        """Send the thread's events to `connection_id` too (an operator watching), until `until` at the latest;
        bounded, each watch lapses."""


class ConnectionRepository(Protocol):
    """Who is on which WebSocket connection."""

    def put(self, connection_id: str, principal_id: str, role: str, now: float | None = None) -> None:
        """Record a new connection."""

    def delete(self, connection_id: str) -> None:
        """Forget a connection."""


class ApprovalRepository(Protocol):
    """Pending approvals (with their task tokens) and the audit trail."""

    def register(self, pending: PendingApproval) -> None:
        """Store (or refresh the token of) a pending approval; AlreadyFinal if its id has a decision."""

    def get(self, interrupt_id: str) -> PendingApproval | None:
        """The pending approval (None once decided or unknown)."""

    def list_pending(
        self, now: float, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[PendingApproval], str | None]:
        """Open approvals across threads, oldest first, a page at a time (and the cursor of the next page)."""

    def record(self, pending: PendingApproval, decision: Decision, lease_id: str, now: float) -> None:
        """Hold it for one decider with its audit record `accepted`; ApprovalExpired, ApprovalAlreadyDecided or
        ApprovalBusy."""

    def unrecord(self, pending: PendingApproval, lease_id: str) -> None:
        """Take back a decision the workflow did not take: still pending."""

    def finalize(self, subject: AuditSubject, decision: Decision, now: float, counters: dict[str, int]) -> bool:
        """The workflow resumed with this decision: the audit record final, the pending item gone, counted once."""

    def record_result(self, interrupt_id: str, ran: bool, result: str) -> None:
        """What the decided write did, on its audit record."""

    def decision_of(self, interrupt_id: str) -> dict[str, object] | None:
        """The audit record of a decided approval."""

    def audit_log(self, limit: int = 100, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of decisions, newest first, and the cursor of the next page."""


class TicketRepository(Protocol):
    """Hand-off tickets: open -> assigned -> closed, with internal notes."""

    def create(
        self,
        thread_id: str,
        customer_id: str,
        summary: str,
        idempotency_key: str | None = None,
        now: float | None = None,
        kind: TicketKind = "escalation",
    ) -> Ticket:
        """Open the thread's ticket (linked to its session, counted) or give back the one still open."""

    def get(self, ticket_id: str) -> Ticket | None:
        """One ticket by id (None when absent)."""

    def save(self, ticket: Ticket, expected_version: int) -> Ticket:
        """Write a change made to `expected_version`; TicketConflict if it changed meanwhile."""

    def list_page(
        self,
        status: TicketStatus = "open",
        limit: int = 20,
        cursor: str | None = None,
        created_before: str | None = None,
    ) -> tuple[list[Ticket], str | None]:
        """One page of the tickets with `status` (created before `created_before`, if given), and the next cursor."""


class HandoffRepository(Protocol):
    """The hand-off's all-or-nothing writes across session, ticket, transcript and counters (HandoffConflict)."""

    def take_over(
        self,
        session: Session,
        ticket: Ticket,
        read_version: int | None,
        entry: TranscriptEntry,
        counters: dict[str, int],
        now: float,
    ) -> None:
        """The idle thread goes to the ticket's assignee."""

    def add_message(
        self,
        session: Session,
        entry: TranscriptEntry,
        now: float,
        *,
        operator_id: str | None = None,
        message_id: str | None = None,
        connection_id: str | None = None,
    ) -> None:
        """A message of the held thread (the operator's or the customer's); the TTL slides."""

    def release(
        self, session: Session, ticket: Ticket, read_version: int | None, entry: TranscriptEntry, now: float
    ) -> None:
        """Back to the AI: idle, the ticket closed."""

    def close_ticket(
        self, ticket: Ticket, read_version: int, session: Session | None, entry: TranscriptEntry, now: float
    ) -> None:
        """Close a ticket nobody holds; its session stops waiting for a person."""


class OrderRepository(Protocol):
    """Orders, each read and write scoped to the owning customer, each write idempotent by `action_id`."""

    def get_for_customer(self, order_id: str, customer_id: str) -> Order | None:
        """The order if `customer_id` owns it; None when absent or someone else's."""

    def cancel(self, order_id: str, customer_id: str, action_id: str, now: float | None = None) -> Order:
        """Cancel a processing order; OrderNotFound or OrderRuleViolation."""

    def request_refund(
        self, order_id: str, customer_id: str, action_id: str, amount: float | None = None, now: float | None = None
    ) -> Order:
        """Request a refund (the whole order unless `amount`) of a delivered order, once; OrderNotFound or
        OrderRuleViolation."""

    def update_shipping_address(
        self, order_id: str, customer_id: str, address: str, action_id: str, now: float | None = None
    ) -> Order:
        """Change the address of a processing order; OrderNotFound or OrderRuleViolation."""


class TranscriptRepository(Protocol):
    """The stored transcript, for replay (the agent writes it through SessionRepository.end_run)."""

    def page(
        self, thread_id: str, now: float, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[TranscriptEntry], str | None]:
        """Up to `limit` entries of the thread, oldest first, from `cursor`; and the cursor of the rest (or None)."""

    def put(self, item: Item) -> None:
        """Store one transcript item (the customer's question at turn start)."""

    def handoff_exchange(self, thread_id: str, turn: int, limit: int = 40) -> list[TranscriptEntry]:
        """The messages the customer and an operator exchanged after `turn` (the model has not seen them)."""


class DeliveryRepository(Protocol):
    """What a failed agent task had delivered to the client, kept for the state machine's retry of it."""

    def remember(self, key: Item, delivery: Delivery, now: float | None = None) -> bool:
        """Keep what a failing task delivered (False if it could not be kept)."""

    def recall(self, key: Item) -> Delivery | None:
        """What the failed attempt delivered (None if it kept nothing)."""


class AnalyticsRepository(Protocol):
    """The operator's counters."""

    def add(self, **increments: int) -> None:
        """Atomically add to counters."""

    def summary(self) -> dict[str, Any]:
        """Sessions, turns, interrupts, tool usage and turn latency percentiles."""


class RateLimitRepository(Protocol):
    """Token buckets per principal and kind."""

    def allow(self, principal: str, kind: str, per_second: float, burst: int, now: float | None = None) -> bool:
        """Take a token (False when the bucket is empty)."""
