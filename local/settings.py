"""`python -m local`'s settings: where it listens, the template parameters it deploys with, what it injects.

Read from the environment as the functions read theirs (smart_support.settings: the same field groups and
`load_settings`), with the local stack's own defaults (docs/local-stack.md, "Settings").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from pydantic import Field, model_validator

from smart_support.settings import (
    AgentModelSettings,
    ApprovalSettings,
    ContextSettings,
    IdentitySettings,
    OrderBackendSettings,
    RateLimitSettings,
    SessionSettings,
    require_http_url,
)

if TYPE_CHECKING:
    from local.order_api import FakeOrderApi

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOCAL_AUTH_SECRET = "local-dev-secret-change-me-0123456789abcdef"  # the dev secret, by design: refused off loopback
OPENAI_API_KEY_PARAMETER = "/smart-support/openai-api-key"  # where OPENAI_API_KEY is seeded unless one is named
ORDER_API_TOKEN_PARAMETER = "/smart-support/order-api-token"  # where the order API's token is seeded unless named
LOCAL_ORDER_API_TOKEN = "local-order-api-token"  # the fake order API's token, by design


class LocalStackSettings(
    SessionSettings,
    ApprovalSettings,
    AgentModelSettings,
    ContextSettings,
    IdentitySettings,
    RateLimitSettings,
    OrderBackendSettings,
):
    """`python -m local`: where it listens and the template parameters it deploys with (docs/local-stack.md)."""

    host: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    allow_anonymous: bool = True
    auth_secret: str = Field(LOCAL_AUTH_SECRET, repr=False)
    log_level: str = "WARNING"
    seed_demo_data: bool = True
    ttl_sweep_seconds: float = Field(60, gt=0)  # how often expired items are deleted (DynamoDB TTL)
    local_faults: str = ""  # AWS errors to inject: service.Operation=ErrorCode@probability, comma-separated
    local_iam_revoke: str = ""  # Principal:action pairs taken out of the translated policies, comma-separated
    local_iam_usage_log: str | None = None  # a file: each (principal, action, resource) the gate allowed, once

    def revoked(self) -> list[tuple[str, str]]:
        """(principal, action) pairs LOCAL_IAM_REVOKE takes out of the translated policies (to see what breaks)."""
        pairs = []
        for entry in self.local_iam_revoke.split(","):
            principal, _, action = entry.strip().partition(":")
            if principal and action:
                pairs.append((principal, action))
        return pairs

    allowed_origins: str = ""  # other browser origins (comma-separated) that may use the stack

    @model_validator(mode="after")
    def _no_default_secret_off_loopback(self) -> LocalStackSettings:
        if self.host not in LOOPBACK_HOSTS and self.auth_secret == LOCAL_AUTH_SECRET:
            raise ValueError(
                f"HOST={self.host} exposes the stack beyond this machine: set AUTH_SECRET to a secret of your own"
            )
        return self

    @model_validator(mode="after")
    def _http_needs_url(self) -> Self:  # replaces OrderBackendSettings': no ORDER_API_URL starts the fake order API
        if self.order_backend == "http" and self.order_api_url:
            require_http_url("ORDER_API_URL", self.order_api_url, "")
        return self

    def order_api_token_of(self, fake: FakeOrderApi | None) -> str | None:
        """The order API's bearer token the stack seeds in SSM: ORDER_API_TOKEN, else the fake's (if it runs)."""
        if self.order_backend != "http":
            return None
        return self.order_api_token or (fake.token if fake else None)

    @property
    def base_url(self) -> str:
        """http://host:port"""
        return f"http://{self.host}:{self.port}"

    def origins(self) -> set[str]:
        """Browser origins allowed to open the WebSocket and read the HTTP API: the stack's own, plus the list."""
        own = {f"http://{host}:{self.port}" for host in {self.host, "127.0.0.1", "localhost"}}
        return own | {o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()}

    def allows_origin(self, origin: str | None) -> bool:
        """The stack's own origin, or one of ALLOWED_ORIGINS (no Origin header: not a browser, allowed)."""
        return origin is None or origin.rstrip("/") in self.origins()

    def template_parameters(self, stage: str, order_api: FakeOrderApi | None = None) -> dict[str, str]:
        """The template's parameters the stack deploys with (the rest keep their defaults); `order_api`: the fake
        order API the stack started (ORDER_BACKEND=http without ORDER_API_URL)."""
        http = self.order_backend == "http"
        return {
            "Stage": stage,
            "SessionTtlSeconds": str(self.session_ttl_seconds),
            "ApprovalTimeoutSeconds": str(self.approval_timeout_seconds),
            "AllowAnonymous": "true" if self.allow_anonymous else "false",
            "ModelProvider": self.model_provider,
            "OpenAiBaseUrl": self.openai_base_url or "",
            "OpenAiModel": self.openai_model,
            "OpenAiTimeoutSeconds": str(int(self.openai_timeout_seconds)),
            "OpenAiApiKeyParameter": (self.openai_api_key_parameter or OPENAI_API_KEY_PARAMETER)
            if self.openai_api_key
            else "",
            "RateLimitTurnsPerMinute": str(self.rate_limit_turns_per_minute),
            "RateLimitFramesPerSecond": str(self.rate_limit_frames_per_second),
            "OrderBackend": self.order_backend,
            "OrderApiUrl": ((order_api.url if order_api else self.order_api_url) or "") if http else "",
            "OrderApiTokenParameter": (self.order_api_token_parameter or ORDER_API_TOKEN_PARAMETER)
            if self.order_api_token_of(order_api)
            else "",
        }


__all__ = ["LOCAL_AUTH_SECRET", "LOOPBACK_HOSTS", "LocalStackSettings"]
