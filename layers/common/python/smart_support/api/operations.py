"""Health, analytics and escalation tickets."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from smart_support import services
from smart_support.api.context import require_operator

router = Router()


@router.get("/health", summary="Liveness")
def health() -> dict[str, Any]:
    """Always ok when the function runs."""
    return {"status": "ok", "service": "smart-support"}


@router.get("/analytics", summary="Sessions, turns, interrupts, tool usage, latency (operators)")
def analytics() -> dict[str, Any]:
    """The counters summary."""
    require_operator(router)
    return services.analytics().summary()


@router.get("/tickets", summary="Open escalation tickets (operators)")
def tickets() -> dict[str, Any]:
    """Tickets created by the escalation agent."""
    require_operator(router)
    return {"tickets": [t.model_dump() for t in services.tickets().list_open()]}
