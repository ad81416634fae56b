"""Health and analytics."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from smart_support.api.dependencies import Analytics, Operator
from smart_support.api.responses import AnalyticsSummary, Health, documented

router = Router()


@router.get("/health", summary="Liveness", responses=documented("The function runs", public=True))
def health() -> Health:
    """Always ok when the function runs."""
    return Health(status="ok", service="smart-support")


@router.get(
    "/analytics",
    summary="Sessions, turns, interrupts, hand-offs, tool usage, latency (operators)",
    responses=documented("The counters", 401, 403),
)
def analytics(operator: Operator, counters: Analytics) -> AnalyticsSummary:
    """The counters summary."""
    return AnalyticsSummary.model_validate(counters.summary())
