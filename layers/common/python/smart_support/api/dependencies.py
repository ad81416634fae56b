"""The request context routes declare with Depends: the settings, the caller, and the stores they use."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Request
from aws_lambda_powertools.event_handler.openapi.params import Query

from smart_support import services
from smart_support.auth.tokens import Principal, principal_from_context
from smart_support.protocol.errors import Forbidden, Unauthorized
from smart_support.settings import ApiSettings
from smart_support.store.ports import (
    AnalyticsRepository,
    ApprovalRepository,
    SessionRepository,
    TicketRepository,
    TranscriptRepository,
)
from smart_support.turns.decisions import ApprovalService
from smart_support.turns.handoff import HandoffService

SETTINGS_KEY = "settings"  # where build_resolver puts its ApiSettings in each request's context


def api_settings(request: Request) -> ApiSettings:
    """The settings the resolver was built with."""
    settings: ApiSettings = request.context[SETTINGS_KEY]
    return settings


Settings = Annotated[ApiSettings, Depends(api_settings)]
# The paging query parameters every list route takes: a page size and the opaque cursor of the page before.
PageLimit = Annotated[int, Query(ge=1, le=100)]
PageCursor = Annotated[str | None, Query(max_length=1024)]


def refused_token(event: dict[str, Any]) -> Unauthorized | None:
    """The 401 for a request whose token the authorizer refused (None when it had a valid one or needs none)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    refused = (authorizer.get("lambda") or {}).get("refused")
    if refused == "invalid":
        return Unauthorized("The token is invalid or expired.")
    return Unauthorized() if refused else None


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


def session_store(settings: Settings) -> SessionRepository:
    """Sessions."""
    return services.sessions(settings)


def approval_store(settings: Settings) -> ApprovalRepository:
    """Pending approvals and the audit trail."""
    return services.approval_store(settings)


def approval_service(settings: Settings) -> ApprovalService:
    """Exactly-once decisions."""
    return services.approvals(settings)


def transcript_store(settings: Settings) -> TranscriptRepository:
    """Transcripts."""
    return services.transcripts(settings)


def analytics_store(settings: Settings) -> AnalyticsRepository:
    """Counters."""
    return services.analytics(settings)


def ticket_store(settings: Settings) -> TicketRepository:
    """Hand-off tickets."""
    return services.tickets(settings)


def handoff_service(settings: Settings) -> HandoffService:
    """Takeover, operator messages, release, ticket changes."""
    return services.handoff(settings)


Sessions = Annotated[SessionRepository, Depends(session_store)]
Approvals = Annotated[ApprovalRepository, Depends(approval_store)]
Decisions = Annotated[ApprovalService, Depends(approval_service)]
Transcripts = Annotated[TranscriptRepository, Depends(transcript_store)]
Analytics = Annotated[AnalyticsRepository, Depends(analytics_store)]
Tickets = Annotated[TicketRepository, Depends(ticket_store)]
Handoff = Annotated[HandoffService, Depends(handoff_service)]
