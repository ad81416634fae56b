"""Composition root: each service built once per process from the validated settings."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from smart_support.settings import get_settings

if TYPE_CHECKING:  # each factory imports its module itself: a function loads only the stores it uses
    from smart_support.store.ports import (
        AnalyticsRepository,
        ApprovalRepository,
        ConnectionRepository,
        SessionRepository,
        TicketRepository,
        TranscriptRepository,
    )
    from smart_support.turns.decisions import ApprovalService
    from smart_support.turns.stepfunctions import TurnWorkflow
    from smart_support.turns.streaming import EventSender


@cache
def sessions() -> SessionRepository:
    """Session data access."""
    from smart_support.store.sessions import SessionStore

    settings = get_settings()
    return SessionStore(settings.conversations_table, settings.session_ttl_seconds)


@cache
def connections() -> ConnectionRepository:
    """Connection records."""
    from smart_support.store.connections import ConnectionStore

    return ConnectionStore(get_settings().conversations_table)


@cache
def sender() -> EventSender:
    """The @connections client."""
    from smart_support.turns.streaming import EventSender

    return EventSender(get_settings().websocket_endpoint)


@cache
def workflow() -> TurnWorkflow:
    """The turn state machine."""
    from smart_support.turns.stepfunctions import TurnWorkflow

    return TurnWorkflow(get_settings().state_machine_arn)


@cache
def analytics() -> AnalyticsRepository:
    """Analytics counters."""
    from smart_support.store.analytics import AnalyticsStore

    return AnalyticsStore(get_settings().conversations_table)


@cache
def approval_store() -> ApprovalRepository:
    """Pending approvals and audit records."""
    from smart_support.store.approvals import ApprovalStore

    return ApprovalStore(get_settings().conversations_table)


@cache
def approvals() -> ApprovalService:
    """Exactly-once approval decisions."""
    from smart_support.turns.decisions import ApprovalService

    return ApprovalService(approval_store(), sessions(), workflow(), analytics())


@cache
def transcripts() -> TranscriptRepository:
    """Stored transcripts."""
    from smart_support.store.transcript import TranscriptStore

    return TranscriptStore(get_settings().conversations_table)


@cache
def tickets() -> TicketRepository:
    """Escalation tickets."""
    from smart_support.store.tickets import TicketStore

    return TicketStore(get_settings().conversations_table)
