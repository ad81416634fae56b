"""Builds the resolver: routers, OpenAPI/Swagger (api/openapi.py), and the one place errors become the JSON envelope."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services
from smart_support.api import approvals, handoff, openapi, operations, sessions, tickets
from smart_support.api.dependencies import SETTINGS_KEY, refused_token
from smart_support.auth.tokens import Principal, principal_from_context
from smart_support.protocol.errors import (
    InternalError,
    InvalidJson,
    MessageTooLarge,
    NotFound,
    RateLimited,
    SupportError,
    Unauthorized,
    ValidationFailed,
)
from smart_support.settings import ApiSettings

PREFIX = "/api/v1"
# Routes API Gateway serves without the authorizer (template.yaml: Auth: {Authorizer: NONE}); the rest need a token.
PUBLIC_PATHS = frozenset({f"{PREFIX}/health", f"{PREFIX}/openapi.json", f"{PREFIX}/docs"})
MAX_NESTING = 500  # fewer brackets than this cannot nest deep enough to matter
MAX_BODY_BYTES = 64 * 1024  # every body this API takes is far smaller (a decision, a note, an operator's message)
logger = Logger(child=True)


class ErrorFields(TypedDict):
    """What every error says (api/responses.ErrorDetail documents it)."""

    code: str
    message: str
    request_id: str | None


class ErrorBody(TypedDict):
    """The error envelope of every non-2xx answer."""

    error: ErrorFields


def error_body(error: SupportError, request_id: str | None) -> ErrorBody:
    """The envelope of `error`, for the request `request_id`."""
    return {"error": {"code": error.code, "message": error.message, "request_id": request_id}}


def caller_of(event: Mapping[str, Any]) -> Principal | None:
    """The authenticated caller, or None (a public route, or one that answers 401 itself)."""
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    try:
        return principal_from_context(authorizer) if authorizer else None
    except Unauthorized:
        return None


def too_deep(body: str) -> bool:
    """A body nested so deeply that parsing it would exhaust the interpreter's recursion (a 400, never a 500)."""
    if body.count("[") + body.count("{") < MAX_NESTING:
        return False
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False  # not JSON: the route's validation says so
    return False


def bucket_of(event: Mapping[str, Any]) -> str:
    """Whose rate bucket a request takes from: the authenticated caller's, else its source address's."""
    if principal := caller_of(event):
        return principal.sub
    source = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "unknown"
    return f"ip#{source}"


class GuardedResolver(APIGatewayHttpResolver):
    """The HTTP API resolver, with the abuse limits applied before anything parses the request."""

    def __init__(self, settings: ApiSettings) -> None:
        super().__init__(enable_validation=True)
        self.settings = settings

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """429 for a caller (or, unauthenticated, an address) over its quota, first; 401 for a token the authorizer
        refused (the same on every route); 413 for a body larger than any route takes; else route the request."""
        body = event.get("body") or ""
        refused: SupportError | None = None
        try:  # every request pays first, refused or not: the caller's bucket, or its address's without a caller
            services.limits(self.settings).frame(bucket_of(event))
        except RateLimited as exc:
            refused = exc
        refused = refused or refused_token(dict(event))
        if refused is None and len(body) > MAX_BODY_BYTES:
            refused = MessageTooLarge(f"The request body is too large ({len(body):,} bytes; the limit is 64 KiB).")
        if refused is None and too_deep(body):
            refused = InvalidJson("Invalid JSON: the body is nested too deeply.")
        if refused is None:
            return super().resolve(event, context)
        request_id = (event.get("requestContext") or {}).get("requestId")
        return {
            "statusCode": refused.http_status,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps(error_body(refused, request_id)),
            "isBase64Encoded": False,
        }


def build_resolver(settings: ApiSettings) -> APIGatewayHttpResolver:
    """The API with every router, validation on, docs at /api/v1/docs; routes get their stores from `settings`."""
    app = GuardedResolver(settings)
    for module in (operations, sessions, approvals, tickets, handoff):
        app.include_router(module.router, prefix=PREFIX)

    def provide_settings(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        app.append_context(**{SETTINGS_KEY: settings})  # the context is cleared after every request
        return next_middleware(app)

    app.use(middlewares=[provide_settings])

    def envelope(error: SupportError) -> Response[ErrorBody]:
        request_id = app.current_event.request_context.request_id
        return Response(
            status_code=error.http_status,
            content_type=content_types.APPLICATION_JSON,
            body=error_body(error, request_id),
        )

    openapi.register(app, PREFIX, PUBLIC_PATHS)

    def support_error(error: SupportError) -> Response[ErrorBody]:
        return envelope(error)

    def invalid_request(error: RequestValidationError) -> Response[ErrorBody]:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        return envelope(ValidationFailed(f"Invalid request: {fields}"))

    @app.not_found
    def not_found(_: NotFoundError) -> Response[ErrorBody]:
        return envelope(NotFound("No such route."))

    def unexpected(error: Exception) -> Response[ErrorBody]:
        logger.exception("request failed")
        return envelope(InternalError())

    # Registered by calls, not as decorators: Powertools leaves exception_handler unannotated, and a decorator
    # without types would erase the handlers' own.
    app.exception_handler(SupportError)(support_error)
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(Exception)(unexpected)

    return app
