"""Provider selection and the Bedrock client settings (no network)."""

from __future__ import annotations

from langchain_aws import ChatBedrockConverse

from smart_support.agent.models import BEDROCK_CLIENT_CONFIG, OfflineChatModel, build_model
from smart_support.settings import AgentModelSettings


def test_offline_is_the_default_provider_with_the_configured_pace(monkeypatch):
    # Given default settings with a 7 ms pace
    monkeypatch.delenv("MODEL_PROVIDER", raising=False)
    settings = AgentModelSettings(offline_token_delay_ms=7)  # region comes from AWS_REGION

    # When the model is built
    model = build_model(settings)

    # Then it is the offline model
    assert isinstance(model, OfflineChatModel)
    assert model.token_delay_ms == 7


def test_bedrock_provider_builds_converse_with_retries_on_throttling():
    # Given the bedrock provider
    settings = AgentModelSettings(
        model_provider="bedrock", bedrock_model_id="us.anthropic.claude-haiku-4-5-20251001-v1:0", region="eu-west-1"
    )

    # When the model is built (no call is made)
    model = build_model(settings)

    # Then it is ChatBedrockConverse on that model and region, retrying adaptively
    assert isinstance(model, ChatBedrockConverse)
    assert model.model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert model.client.meta.region_name == "eu-west-1"
    assert model.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    assert BEDROCK_CLIENT_CONFIG.retries == {"mode": "adaptive", "total_max_attempts": 6}
