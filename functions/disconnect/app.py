"""WebSocket $disconnect: forget the connection (a running turn keeps going; its answer stays replayable)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services, tracing
from smart_support.protocol.gateway import WebSocketDisconnectEvent
from smart_support.settings import ConnectSettings, load_settings

logger = Logger()
connections = services.connections(load_settings(ConnectSettings))


@logger.inject_lambda_context(clear_state=True)
@tracing.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Delete the connection record."""
    request = WebSocketDisconnectEvent.model_validate(event).request_context
    connections.delete(request.connection_id)
    logger.debug("connection", extra={"connection_id": request.connection_id})  # an address to post to: not at INFO
    logger.info("disconnected")
    return {"statusCode": 200}
