"""Who is calling the HTTP API (from the Lambda authorizer's context)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from smart_support.auth.tokens import Principal, principal_from_context
from smart_support.protocol.errors import Forbidden


def current_principal(router: BaseRouter) -> Principal:
    """The authenticated principal of the current request (Unauthorized without one)."""
    authorizer = (router.current_event.get("requestContext") or {}).get("authorizer")
    return principal_from_context(authorizer)


def require_operator(router: BaseRouter) -> Principal:
    """The principal, if it is an operator; Forbidden otherwise."""
    principal = current_principal(router)
    if not principal.is_operator:
        raise Forbidden("This route is for operators.")
    return principal
