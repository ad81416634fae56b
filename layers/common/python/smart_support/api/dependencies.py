"""The request context routes declare with Depends: the settings, the caller, and the stores they use."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Request

from smart_support import services
from smart_support.auth.tokens import Principal, principal_from_context
from smart_support.protocol.errors import Forbidden
from smart_support.settings import ApiSettings
from smart_support.store.analytics import AnalyticsStore
from smart_support.store.approvals import ApprovalStore
from smart_support.store.sessions import SessionStore
from smart_support.store.tickets import TicketStore
from smart_support.store.transcript import TranscriptStore
from smart_support.turns.decisions import ApprovalService

SETTINGS_KEY = "settings"  # where build_resolver puts its ApiSettings in each request's context


def api_settings(request: Request) -> ApiSettings:
    """The settings the resolver was built with."""
    settings: ApiSettings = request.context[SETTINGS_KEY]
    return settings


Settings = Annotated[ApiSettings, Depends(api_settings)]


def caller(request: Request) -> Principal:
    """The authenticated principal of the request (Unauthorized without one)."""
    authorizer = (request.resolved_event.get("requestContext") or {}).get("authorizer")
    return principal_from_context(authorizer)


Caller = Annotated[Principal, Depends(caller)]


def operator(principal: Caller) -> Principal:
    """The caller, if an operator; Forbidden otherwise."""
    if not principal.is_operator:
        raise Forbidden("This route is for operators.")
    return principal


Operator = Annotated[Principal, Depends(operator)]


def session_store(settings: Settings) -> SessionStore:
    """Sessions."""
    return services.sessions(settings)


def approval_store(settings: Settings) -> ApprovalStore:
    """Pending approvals and the audit trail."""
    return services.approval_store(settings)


def approval_service(settings: Settings) -> ApprovalService:
    """Exactly-once decisions."""
    return services.approvals(settings)


def transcript_store(settings: Settings) -> TranscriptStore:
    """Transcripts."""
    return services.transcripts(settings)


def analytics_store(settings: Settings) -> AnalyticsStore:
    """Counters."""
    return services.analytics(settings)


def ticket_store(settings: Settings) -> TicketStore:
    """Escalation tickets."""
    return services.tickets(settings)


Sessions = Annotated[SessionStore, Depends(session_store)]
Approvals = Annotated[ApprovalStore, Depends(approval_store)]
Decisions = Annotated[ApprovalService, Depends(approval_service)]
Transcripts = Annotated[TranscriptStore, Depends(transcript_store)]
Analytics = Annotated[AnalyticsStore, Depends(analytics_store)]
Tickets = Annotated[TicketStore, Depends(ticket_store)]
