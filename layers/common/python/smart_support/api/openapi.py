"""The OpenAPI document and Swagger UI: the stage's server URL, the bearer scheme, our error envelope for errors.

Powertools' OpenAPI models and Swagger UI (~35 ms of import) load when a request first asks for the document.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import Server

TITLE = "smart-support API"
VERSION = "1.0.0"
DESCRIPTION = (
    "The HTTP API of smart-support: session state and replay for customers, the approval queue, decisions, "
    "tickets and analytics for operators. Send the token as `Authorization: Bearer <JWT>`. Every error is "
    '`{"error": {"code", "message", "request_id"}}`, except those API Gateway answers itself (a refused token, '
    'throttling, a failed function): `{"message": "..."}`.'
)
SCHEME = "bearerAuth"
SCHEME_DESCRIPTION = "A customer's or an operator's token (see docs/security.md)"
POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def stage_server(app: APIGatewayHttpResolver) -> Server:
    """The base URL this request came through: /<stage> under a named stage, / under $default or a custom domain."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    context = app.current_event.request_context
    stage = context.stage
    if stage and stage != "$default" and context.http.path.startswith(f"/{stage}/"):
        return Server(url=f"/{stage}", description=f"this API's {stage} stage")
    return Server(url="/", description="this API")


def document(app: APIGatewayHttpResolver, public_paths: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI document as this request should see it (its server is the stage the request came through)."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    spec = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            servers=[stage_server(app)],
            security_schemes={SCHEME: HTTPBearer(bearerFormat="JWT", description=SCHEME_DESCRIPTION)},
        )
    )
    return tidy(spec, public_paths)


def tidy(spec: dict[str, Any], public_paths: frozenset[str]) -> dict[str, Any]:
    """Bearer security on every route but the public ones; 422 is our envelope (and only where there is input)."""
    for path, operations in spec.get("paths", {}).items():
        for operation in operations.values():
            if path not in public_paths:
                operation.setdefault("security", [{SCHEME: []}])
            responses = operation.get("responses", {})
            invalid = responses.get("422")
            if invalid and "HTTPValidationError" in json.dumps(invalid):
                if operation.get("parameters") or operation.get("requestBody"):
                    invalid["description"] = "`validation_error`: a parameter or the body is invalid"
                    invalid["content"] = {"application/json": {"schema": {"$ref": ENVELOPE_REF}}}
                else:
                    del responses["422"]  # nothing to validate: never answered
    schemas = spec.get("components", {}).get("schemas", {})
    for name in POWERTOOLS_ERRORS:
        if f'"#/components/schemas/{name}"' not in json.dumps(spec.get("paths", {})):
            schemas.pop(name, None)
    return spec


@cache
def _swagger_assets() -> tuple[str, str]:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    assets = Path(swagger_ui.__file__).parent  # Powertools ships Swagger UI's bundle (Apache-2.0)
    return (
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )


def register(app: APIGatewayHttpResolver, prefix: str, public_paths: frozenset[str]) -> None:
    """GET <prefix>/openapi.json and GET <prefix>/docs (Swagger UI, its assets inline: no CDN)."""

    @app.get(f"{prefix}/openapi.json", include_in_schema=False)
    def openapi() -> Response[str]:
        return Response(200, content_types.APPLICATION_JSON, json.dumps(document(app, public_paths)))

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def docs() -> Response[str]:
        spec = json.dumps(document(app, public_paths))
        if (app.current_event.query_string_parameters or {}).get("format") == "json":  # Swagger UI's "explore" link
            return Response(200, content_types.APPLICATION_JSON, spec)
        from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

        script, style = _swagger_assets()
        page = generate_swagger_html(spec.replace("</", "<\\/"), script, style, "", None, persist_authorization=True)
        return Response(200, "text/html; charset=utf-8", page, headers=page_headers(page))


def page_headers(page: str) -> dict[str, str]:
    """A strict policy for the docs page (it holds a token, `persistAuthorization`): only its own inline scripts
    (by hash) run, it talks only to this origin, no site may frame it, and nothing is sniffed."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    )
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


__all__ = ["SCHEME", "document", "register", "stage_server", "tidy"]
