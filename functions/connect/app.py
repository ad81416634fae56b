"""WebSocket $connect: the authorizer already admitted the principal; record the connection."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services, tracing
from smart_support.auth.tokens import principal_from_context
from smart_support.protocol.gateway import WebSocketConnectEvent
from smart_support.settings import ConnectSettings, load_settings

logger = Logger()
metrics = Metrics()
connections = services.connections(load_settings(ConnectSettings))


@logger.inject_lambda_context(clear_state=True)
@tracing.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Store who is on this connection."""
    request = WebSocketConnectEvent.model_validate(event).request_context
    principal = principal_from_context(request.authorizer)
    connections.put(request.connection_id, principal.sub, principal.role)
    logger.append_keys(principal=principal.sub)
    logger.debug("connection", extra={"connection_id": request.connection_id})  # an address to post to: not at INFO
    logger.info("connected")
    metrics.add_metric(name="Connections", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}
