"""Settings read from the environment once per cold start and validated with pydantic."""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Every setting a function may need; names are the environment variables (see template.yaml)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    stage: str = Field("dev", alias="STAGE")
    region: str = Field("us-east-1", alias="AWS_REGION")
    conversations_table: str = Field("ConversationsTable", alias="CONVERSATIONS_TABLE")
    orders_table: str = Field("OrdersTable", alias="ORDERS_TABLE")
    checkpoints_table: str = Field("CheckpointsTable", alias="CHECKPOINTS_TABLE")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")
    websocket_endpoint: str = Field("", alias="WEBSOCKET_ENDPOINT")
    session_ttl_seconds: int = Field(1800, alias="SESSION_TTL_SECONDS", ge=1)
    approval_timeout_seconds: int = Field(900, alias="APPROVAL_TIMEOUT_SECONDS", ge=1)
    allow_anonymous: bool = Field(False, alias="ALLOW_ANONYMOUS")
    auth_secret: str | None = Field(None, alias="AUTH_SECRET", repr=False)
    auth_secret_parameter: str = Field("/smart-support/auth-secret", alias="AUTH_SECRET_PARAMETER")
    model_provider: Literal["offline", "bedrock"] = Field("offline", alias="MODEL_PROVIDER")
    bedrock_model_id: str = Field("us.anthropic.claude-haiku-4-5-20251001-v1:0", alias="BEDROCK_MODEL_ID")
    offline_token_delay_ms: int = Field(20, alias="OFFLINE_TOKEN_DELAY_MS", ge=0)
    stream_flush_ms: int = Field(50, alias="STREAM_FLUSH_MS", ge=0)


@cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use (cold start)."""
    return Settings.model_validate(dict(os.environ))
