"""Composition root: each service built from the settings it is given, once per settings object.

Factories take their settings explicitly and are cached on them (settings are frozen, so hashable): nothing
here remembers a "current" settings, which matters locally, where every function runs in one process.
Each factory imports its module itself, so a function loads only the stores it uses, and hands it out as the
Protocol of store/ports.py that the rest of the package is written against.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smart_support.agent.runner import TurnRunner
    from smart_support.knowledge.ingest import S3Ingest
    from smart_support.knowledge.source import HelpCenter
    from smart_support.settings import (
        AgentSettings,
        ConversationSettings,
        HandoffSettings,
        KnowledgeIngestSettings,
        KnowledgeSettings,
        MessageSettings,
        RateLimitedSettings,
        StreamingSettings,
        WorkflowSettings,
        WorkflowTaskSettings,
    )
    from smart_support.store.ports import (
        AnalyticsRepository,
        ApprovalRepository,
        ConnectionRepository,
        DeliveryRepository,
        HandoffRepository,
        OrderRepository,
        SessionRepository,
        TicketRepository,
        TranscriptRepository,
    )
    from smart_support.turns.chat import ChatService
    from smart_support.turns.decisions import ApprovalService
    from smart_support.turns.handoff import HandoffService
    from smart_support.turns.limits import Limits
    from smart_support.turns.stepfunctions import TurnWorkflow
    from smart_support.turns.streaming import EventSender
    from smart_support.turns.tasks import WorkflowTasks


# ---------------------------------------------------------------- stores and adapters


@cache
def sessions(settings: ConversationSettings) -> SessionRepository:
    """Session data access."""
    from smart_support.store.sessions import SessionStore

    return SessionStore(settings.conversations_table, settings.session_ttl_seconds)


@cache
def connections(settings: ConversationSettings) -> ConnectionRepository:
    """Connection records."""
    from smart_support.store.connections import ConnectionStore

    return ConnectionStore(settings.conversations_table)


@cache
def analytics(settings: ConversationSettings) -> AnalyticsRepository:
    """Analytics counters."""
    from smart_support.store.analytics import AnalyticsStore

    return AnalyticsStore(settings.conversations_table)


@cache
def approval_store(settings: ConversationSettings) -> ApprovalRepository:
    """Pending approvals and audit records."""
    from smart_support.store.approvals import ApprovalStore

    return ApprovalStore(settings.conversations_table)


@cache
def transcripts(settings: ConversationSettings) -> TranscriptRepository:
    """Stored transcripts."""
    from smart_support.store.transcript import TranscriptStore

    return TranscriptStore(settings.conversations_table)


@cache
def tickets(settings: ConversationSettings) -> TicketRepository:
    """Escalation tickets."""
    from smart_support.store.tickets import TicketStore

    return TicketStore(settings.conversations_table)


@cache
def handoff_store(settings: ConversationSettings) -> HandoffRepository:
    """The hand-off's transactional writes (session, ticket, transcript, counters)."""
    from smart_support.store.handoffs import HandoffStore
    from smart_support.store.tickets import TicketStore

    # its transactions put ticket items: TicketStore.put_request builds each Put and calls nothing
    return HandoffStore(
        settings.conversations_table, settings.session_ttl_seconds, TicketStore(settings.conversations_table)
    )


@cache
def deliveries(settings: ConversationSettings) -> DeliveryRepository:
    """What failed agent tasks had delivered (read by their retries)."""
    from smart_support.store.deliveries import DeliveryStore

    return DeliveryStore(settings.conversations_table)


@cache
def sender(settings: StreamingSettings) -> EventSender:
    """The @connections client."""
    from smart_support.turns.streaming import EventSender

    return EventSender(settings.websocket_endpoint)


@cache
def workflow(settings: WorkflowSettings) -> TurnWorkflow:
    """The turn state machine, able to start executions."""
    from smart_support.turns.stepfunctions import TurnWorkflow

    return TurnWorkflow(settings.state_machine_arn)


@cache
def help_center(settings: KnowledgeSettings) -> HelpCenter:
    """The help-center index: the ingested one in S3 when there is one, else the file (the shipped demo index)."""
    from smart_support.knowledge.source import SHIPPED_INDEX, FileSource, HelpCenter, IndexSource, S3Source

    sources: list[IndexSource] = []
    if settings.knowledge_bucket:
        sources.append(S3Source(settings.knowledge_bucket, settings.knowledge_index_key))
    sources.append(FileSource(settings.knowledge_index_path or SHIPPED_INDEX))
    return HelpCenter(sources, check_seconds=settings.knowledge_check_seconds)


@cache
def knowledge_ingest(settings: KnowledgeIngestSettings) -> S3Ingest:
    """The help-center ingest: the articles under the bucket's prefix -> the index beside them."""
    from smart_support.knowledge.ingest import S3Ingest

    return S3Ingest(settings.knowledge_bucket, settings.knowledge_articles_prefix, settings.knowledge_index_key)


# ---------------------------------------------------------------- what the handlers run


@cache
def approvals(settings: ConversationSettings) -> ApprovalService:
    """Exactly-once approval decisions (delivered by task token: no state machine ARN needed)."""
    from smart_support.turns.decisions import ApprovalService
    from smart_support.turns.stepfunctions import TurnWorkflow

    return ApprovalService(approval_store(settings), sessions(settings), TurnWorkflow(), analytics(settings))


@cache
def handoff(settings: HandoffSettings) -> HandoffService:
    """Takeover, operator messages, release, tickets and watching threads."""
    from smart_support.turns.handoff import HandoffService

    return HandoffService(sessions(settings), tickets(settings), handoff_store(settings), sender(settings))


@cache
def chat(settings: MessageSettings) -> ChatService:
    """The WebSocket message routes."""
    from smart_support.turns.chat import ChatService

    events = sender(settings)
    return ChatService(
        sessions(settings),
        workflow(settings),
        lambda: approvals(settings),
        lambda: approval_store(settings),
        events,
        transcripts(settings),
        lambda: handoff(settings),
        limits(settings),
        closer=events,
    )


@cache
def limits(settings: RateLimitedSettings) -> Limits:
    """The per-principal token buckets (frames and requests per second, turns per minute)."""
    from smart_support.store.ratelimit import RateLimiter
    from smart_support.turns.limits import Limits

    return Limits(
        RateLimiter(settings.conversations_table),
        settings.rate_limit_frames_per_second,
        settings.rate_limit_turns_per_minute,
    )


@cache
def workflow_tasks(settings: WorkflowTaskSettings) -> WorkflowTasks:
    """The AwaitApproval and ReportFailure states."""
    from smart_support.turns.tasks import WorkflowTasks

    return WorkflowTasks(
        approval_store(settings),
        sessions(settings),
        sender(settings),
        analytics(settings),
        settings.approval_timeout_seconds,
    )


@cache
def orders(settings: AgentSettings) -> OrderRepository:
    """The order backend ORDER_BACKEND names: the orders table, or the company's API (docs/integrations.md)."""
    if settings.order_backend == "dynamodb":
        from smart_support.store.orders import OrderStore

        return OrderStore(settings.orders_table)
    from smart_support.auth.secrets import secret
    from smart_support.store.orders_http import CircuitBreaker, HttpOrderStore

    local_token, parameter = settings.order_api_token, settings.order_api_token_parameter

    def token() -> str | None:  # read per call (Powertools caches it 5 min), so a rotated token is picked up
        if local_token:
            return local_token
        return secret(None, parameter) if parameter else None

    return HttpOrderStore(
        str(settings.order_api_url),
        token=token,
        timeout=settings.order_api_timeout_seconds,
        attempts=settings.order_api_attempts,
        breaker=CircuitBreaker(settings.order_api_breaker_failures, settings.order_api_breaker_seconds),
        on_failure=count_order_failure,
    )


def count_order_failure(metric: str, reason: str) -> None:
    """One failed order-API call as a count metric (Powertools' metric set is shared: the handler flushes it)."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    Metrics().add_metric(name=metric, unit=MetricUnit.Count, value=1)


@cache
def turn_runner(settings: AgentSettings) -> TurnRunner:
    """The agent task: the compiled graph on the configured model, stores and checkpoints."""
    from smart_support.agent.graph import build_checkpointer, build_graph, context_window
    from smart_support.agent.models import build_model
    from smart_support.agent.runner import TurnRunner

    graph = build_graph(
        model=build_model(settings),
        orders=orders(settings),
        tickets=tickets(settings),
        checkpointer=build_checkpointer(settings),
        context=context_window(settings),
        router=settings.router,
        help_center=help_center(settings),
    )
    return TurnRunner(
        graph,
        sessions(settings),
        approvals(settings),
        sender(settings),
        flush_ms=settings.stream_flush_ms,
        tickets=tickets(settings),
        workflow=workflow(settings),
        transcripts=transcripts(settings),
        deliveries=deliveries(settings),
    )
