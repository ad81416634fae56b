"""Lambda authorizer for the WebSocket $connect (token in ?token=) and the HTTP API (Bearer header)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from smart_support import tracing
from smart_support.auth.tokens import Principal, authenticate, refused_context
from smart_support.auth.verifiers import verifier_for
from smart_support.protocol.authorizer import (
    HttpAuthorizerEvent,
    WebSocketAuthorizerEvent,
    http_authorizer_response,
    websocket_allow_response,
    websocket_deny_response,
)
from smart_support.protocol.errors import Unauthorized
from smart_support.settings import AuthorizerSettings, load_settings

logger = Logger()
settings = load_settings(AuthorizerSettings)
verifier = verifier_for(settings)  # shared-secret (HS256) or oidc (RS256 against the provider's JWKS)
AuthorizerEvent = TypeAdapter(HttpAuthorizerEvent | WebSocketAuthorizerEvent)


def _principal(token: str | None) -> Principal | None:
    try:
        principal = authenticate(token, verifier, settings.allow_anonymous)
    except Unauthorized:
        logger.info("token refused", extra={"had_token": bool(token)})
        return None
    logger.info("token accepted", extra={"sub": principal.sub, "role": principal.role})
    return principal


@logger.inject_lambda_context(clear_state=True)
@tracing.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Allow with the principal as context; deny the handshake (403), or mark an HTTP request refused. A refused
    token is an answer, never an exception: the function's Errors (the authorizer-errors alarm) are crashes only."""
    request = AuthorizerEvent.validate_python(event)
    principal = _principal(request.token)
    if isinstance(request, HttpAuthorizerEvent):
        # API Gateway's own denial ({"message": "Forbidden"}) cannot carry the API's error envelope: let the
        # request through marked as refused, and the API answers 401 `unauthorized` like every other error.
        return http_authorizer_response(principal.context() if principal else refused_context(request.token))
    if principal is None:
        return websocket_deny_response(request.method_arn, refused_context(request.token))
    return websocket_allow_response(request.method_arn, principal.sub, principal.context())
