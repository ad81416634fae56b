"""Re-index the help center: an article under the knowledge bucket's articles/ prefix was created or deleted (S3 via
EventBridge), or an operator invoked it by hand. Every run rebuilds from the whole listing, so any event will do."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smart_support import services, tracing
from smart_support.settings import KnowledgeIngestSettings, load_settings

logger = Logger()
metrics = Metrics()
ingest = services.knowledge_ingest(load_settings(KnowledgeIngestSettings))


@logger.inject_lambda_context(clear_state=True)
@tracing.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    """Build the index from the articles now in the bucket (nothing when it already matches them)."""
    detail = event.get("detail") or {}
    logger.append_keys(trigger=event.get("detail-type", "invoke"), key=(detail.get("object") or {}).get("key"))
    result = ingest.run()
    for line in result.rejected:
        logger.warning("article left out of the help center", extra={"problem": line})
    logger.info("help center indexed" if result.written else "help center already up to date", extra=result.as_dict())
    metrics.add_metric(name="KnowledgeArticles", unit=MetricUnit.Count, value=result.articles)
    metrics.add_metric(name="KnowledgeArticlesRejected", unit=MetricUnit.Count, value=len(result.rejected))
    return result.as_dict()
