"""HTTP API: health, OpenAPI, sessions and replay, approvals (operator callback), analytics."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import tracing
from smart_support.api.app import build_resolver
from smart_support.settings import ApiSettings, load_settings

logger = Logger()
metrics = Metrics()
app = build_resolver(load_settings(ApiSettings))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracing.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Route the request."""
    return app.resolve(event, context)
