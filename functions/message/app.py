"""WebSocket message, interrupt_response, ping, resume, watch, unwatch and $default routes: one frame, one reply."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services, tracing
from smart_support.auth.tokens import principal_from_context
from smart_support.protocol.events import dumps
from smart_support.protocol.gateway import WebSocketMessageEvent
from smart_support.settings import MessageSettings, load_settings
from smart_support.turns.chat import FrameContext

logger = Logger()
metrics = Metrics()
chat = services.chat(load_settings(MessageSettings))


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)  # WebSocket: same path
@tracing.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Handle the frame; the route response carries the reply (pong, status or error)."""
    parsed = WebSocketMessageEvent.model_validate(event)
    request = parsed.request_context
    principal = principal_from_context(request.authorizer)
    logger.append_keys(principal=principal.sub, route=request.route_key)
    logger.debug("connection", extra={"connection_id": request.connection_id})  # an address to post to: not at INFO
    body = parsed.body if isinstance(parsed.body, str) else None
    reply = chat.handle(body, FrameContext(request.connection_id, principal, request.request_id))
    metrics.add_metric(name="Frames", unit=MetricUnit.Count, value=1)
    if reply is None:
        return {"statusCode": 200}
    if reply["type"] == "error":
        metrics.add_metric(name="FrameErrors", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200, "body": dumps(reply)}
