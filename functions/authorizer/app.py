"""Lambda authorizer for the WebSocket $connect (token in ?token=) and the HTTP API (Bearer header)."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponseV2,
    APIGatewayAuthorizerResponseWebSocket,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support.auth.secrets import auth_secret
from smart_support.auth.tokens import authenticate
from smart_support.protocol.errors import Unauthorized
from smart_support.settings import get_settings

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))  # only AWS calls are worth tracing here
settings = get_settings()


def _bearer(headers: dict) -> str | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("authorization", "")
    return value[7:].strip() if value.lower().startswith("bearer ") else (value or None)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Allow with the principal as context, or refuse (401 on the WebSocket handshake)."""
    is_http_api = event.get("version") == "2.0"
    token = (
        _bearer(event.get("headers") or {}) if is_http_api else (event.get("queryStringParameters") or {}).get("token")
    )
    try:
        principal = authenticate(
            token, auth_secret(settings.auth_secret, settings.auth_secret_parameter), settings.allow_anonymous
        )
    except Unauthorized:
        logger.info("token refused", extra={"had_token": bool(token)})
        if is_http_api:
            return APIGatewayAuthorizerResponseV2(authorize=False).asdict()
        raise Exception("Unauthorized")  # noqa: B904 - API Gateway answers 401 to exactly this
    logger.info("token accepted", extra={"sub": principal.sub, "role": principal.role})
    if is_http_api:
        return APIGatewayAuthorizerResponseV2(authorize=True, context=principal.context()).asdict()
    response = APIGatewayAuthorizerResponseWebSocket.from_route_arn(
        event["methodArn"], principal.sub, context=principal.context()
    )
    response.allow_all_routes()
    return response.asdict()
