"""Model usage of one agent run: calls, calls before the first answer token, tokens (cached ones too)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

if TYPE_CHECKING:
    from aws_lambda_powertools.metrics import MetricUnit


class ModelUsage(BaseCallbackHandler):
    """A callback handler summing what every model call of a run reports (pass it in the run's `callbacks`)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.calls = 0
        self.calls_before_first_token: int | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_input_tokens = 0
        self.cache_write_input_tokens = 0

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]], **kwargs: Any) -> None:
        """Count the call."""
        with self._lock:
            self.calls += 1

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Add the call's reported tokens (langchain's usage_metadata; Bedrock's cache reads and writes included)."""
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        message = generation.message if isinstance(generation, ChatGeneration) else None
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        if not usage:
            return
        details = usage.get("input_token_details") or {}
        with self._lock:
            self.input_tokens += usage.get("input_tokens", 0)
            self.output_tokens += usage.get("output_tokens", 0)
            self.cache_read_input_tokens += details.get("cache_read", 0) or 0
            self.cache_write_input_tokens += details.get("cache_creation", 0) or 0

    def first_token(self) -> None:
        """The customer got the first answer token now: remember how many model calls it took."""
        with self._lock:
            if self.calls_before_first_token is None:
                self.calls_before_first_token = self.calls

    def as_dict(self) -> dict[str, int | None]:
        """The figures, as the agent reports them to the state machine and to CloudWatch."""
        with self._lock:
            return {
                "model_calls": self.calls,
                "model_calls_before_first_token": self.calls_before_first_token,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "cache_write_input_tokens": self.cache_write_input_tokens,
            }


class MetricsSink(Protocol):
    """Where count metrics go: a Powertools `Metrics` (or `EphemeralMetrics`)."""

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        """Add one value of metric `name`."""


METRIC_NAMES = {
    "model_calls": "ModelCalls",
    "model_calls_before_first_token": "ModelCallsBeforeFirstToken",
    "input_tokens": "ModelInputTokens",
    "output_tokens": "ModelOutputTokens",
    "cache_read_input_tokens": "ModelCacheReadInputTokens",
    "cache_write_input_tokens": "ModelCacheWriteInputTokens",
}


def add_usage_metrics(metrics: MetricsSink, usage: dict[str, int | None]) -> None:
    """Add a run's model usage to a Powertools `Metrics` (count metrics, one per figure that is known)."""
    from aws_lambda_powertools.metrics import MetricUnit

    for key, name in METRIC_NAMES.items():
        value = usage.get(key)
        if value is not None:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
