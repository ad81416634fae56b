"""Lambda authorizer for the WebSocket $connect (token in ?token=) and the HTTP API (Bearer header)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponseV2,
    APIGatewayAuthorizerResponseWebSocket,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from smart_support.auth.tokens import Principal, authenticate, refused_context
from smart_support.auth.verifiers import verifier_for
from smart_support.protocol.errors import Unauthorized
from smart_support.protocol.gateway import HttpAuthorizerEvent, WebSocketAuthorizerEvent
from smart_support.settings import AuthorizerSettings, load_settings

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))  # only AWS calls are worth tracing here
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
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Allow with the principal as context; refuse the handshake (401), or mark an HTTP request refused."""
    request = AuthorizerEvent.validate_python(event)
    principal = _principal(request.token)
    if isinstance(request, HttpAuthorizerEvent):
        if principal is None:
            # API Gateway's own denial ({"message": "Forbidden"}) cannot carry the API's error envelope: let the
            # request through marked as refused, and the API answers 401 `unauthorized` like every other error.
            return APIGatewayAuthorizerResponseV2(authorize=True, context=refused_context(request.token)).asdict()
        return APIGatewayAuthorizerResponseV2(authorize=True, context=principal.context()).asdict()
    if principal is None:
        raise Exception("Unauthorized")  # API Gateway answers 401 to exactly this
    response = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        request.method_arn, principal.sub, context=principal.context()
    )
    response.allow_all_routes()
    return response.asdict()
