"""Builds the resolver: routers, OpenAPI/Swagger, and the one place errors become the JSON envelope."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from smart_support.api import approvals, operations, sessions
from smart_support.api.dependencies import SETTINGS_KEY
from smart_support.protocol.errors import InternalError, NotFound, SupportError, ValidationFailed
from smart_support.settings import ApiSettings

PREFIX = "/api/v1"
logger = Logger(child=True)


def build_resolver(settings: ApiSettings) -> APIGatewayHttpResolver:
    """The API with every router, validation on, docs at /api/v1/docs; routes get their stores from `settings`."""
    app = APIGatewayHttpResolver(enable_validation=True)
    for module in (operations, sessions, approvals):
        app.include_router(module.router, prefix=PREFIX)

    def provide_settings(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        app.append_context(**{SETTINGS_KEY: settings})  # the context is cleared after every request
        return next_middleware(app)

    app.use(middlewares=[provide_settings])

    def envelope(error: SupportError) -> Response[dict[str, Any]]:
        request_id = app.current_event.request_context.request_id
        return Response(
            status_code=error.http_status,
            content_type=content_types.APPLICATION_JSON,
            body={"error": {"code": error.code, "message": error.message, "request_id": request_id}},
        )

    @app.get(f"{PREFIX}/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=app.get_openapi_json_schema(title="smart-support API", version="1.0.0"),
        )

    app.enable_swagger(path=f"{PREFIX}/docs", title="smart-support API", version="1.0.0")

    @app.exception_handler(SupportError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def support_error(error: SupportError) -> Response[dict[str, Any]]:
        return envelope(error)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        return envelope(ValidationFailed(f"Invalid request: {fields}"))

    @app.not_found
    def not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        return envelope(NotFound("No such route."))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
    def unexpected(error: Exception) -> Response[dict[str, Any]]:
        logger.exception("request failed")
        return envelope(InternalError())

    return app
