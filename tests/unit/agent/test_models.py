"""Provider selection and the Bedrock client settings (no network)."""

from __future__ import annotations

import pytest
from langchain_aws import ChatBedrockConverse

from smart_support.agent.models import BEDROCK_CLIENT_CONFIG, OfflineChatModel, build_model
from smart_support.settings import AgentModelSettings, InvalidSettings, load_settings


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
        model_provider="bedrock", bedrock_model_id="eu.anthropic.claude-haiku-4-5-20251001-v1:0", region="eu-west-1"
    )

    # When the model is built (no call is made)
    model = build_model(settings)

    # Then it is ChatBedrockConverse on that model and region, retrying adaptively
    assert isinstance(model, ChatBedrockConverse)
    assert model.model_id == "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert model.client.meta.region_name == "eu-west-1"
    assert model.client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 6}
    assert BEDROCK_CLIENT_CONFIG.retries == {"mode": "adaptive", "total_max_attempts": 6}


@pytest.mark.parametrize(
    ("region", "model"),
    [
        ("us-east-1", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("us-west-2", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("eu-west-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("eu-central-1", "eu.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("ap-northeast-1", "apac.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("us-gov-west-1", "us-gov.anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("sa-east-1", "global.anthropic.claude-haiku-4-5-20251001-v1:0"),
    ],
)
def test_without_a_model_id_the_agent_calls_its_regions_own_inference_profile(region, model):
    # Given a stack deployed to `region` with the template's default (an empty BedrockModelId)
    settings = AgentModelSettings(model_provider="bedrock", bedrock_model_id="", region=region)
    # Then the agent calls Claude Haiku 4.5 through the profile of its own geography
    assert settings.bedrock_model == model


@pytest.mark.parametrize(
    ("region", "model", "callable_there"),
    [
        ("eu-west-1", "us.anthropic.claude-haiku-4-5-20251001-v1:0", False),
        ("ap-southeast-2", "eu.anthropic.claude-haiku-4-5-20251001-v1:0", False),
        ("us-east-1", "apac.anthropic.claude-haiku-4-5-20251001-v1:0", False),
        ("us-east-2", "us.anthropic.claude-haiku-4-5-20251001-v1:0", True),
        ("eu-west-1", "global.anthropic.claude-haiku-4-5-20251001-v1:0", True),
        ("eu-west-1", "anthropic.claude-3-haiku-20240307-v1:0", True),  # a model id: no geography of its own
        ("ap-southeast-2", "au.anthropic.claude-haiku-4-5-20251001-v1:0", True),
    ],
)
def test_an_inference_profile_the_region_cannot_call_fails_the_cold_start(monkeypatch, region, model, callable_there):
    # Given the agent's environment with a Bedrock model id (as the template passes BedrockModelId)
    monkeypatch.setenv("MODEL_PROVIDER", "bedrock")
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("BEDROCK_MODEL_ID", model)
    load_settings.cache_clear()  # as a new process would
    try:
        # When the settings load at cold start
        if callable_there:
            assert load_settings(AgentModelSettings).bedrock_model == model
            return
        # Then a profile of another geography is refused there, naming the variable and what to use instead
        with pytest.raises(InvalidSettings) as refused:
            load_settings(AgentModelSettings)
        assert "BEDROCK_MODEL_ID" in str(refused.value) and "global." in str(refused.value)
    finally:
        load_settings.cache_clear()
