"""`python -m local`'s settings: where it listens, the template parameters it deploys with, what it injects.

Read from the environment as the functions read theirs (smart_support.settings: the same field groups and
`load_settings`), with the local stack's own defaults (docs/local-stack.md, "Settings").
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

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

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # the names a request's Host may always use (DNS rebinding)
WILDCARD_HOSTS = ("0.0.0.0", "::")  # every interface: reached on 127.0.0.1 from this machine, never a Host name
LOCAL_AUTH_SECRET = "local-dev-secret-change-me-0123456789abcdef"  # the dev secret, by design: refused off loopback
MIN_EXPOSED_SECRET_BYTES = 32  # off loopback: an HS256 secret as long as its hash (RFC 7518, 3.2)
OPENAI_API_KEY_PARAMETER = "/smart-support/openai-api-key"  # where OPENAI_API_KEY is seeded unless one is named
ORDER_API_TOKEN_PARAMETER = "/smart-support/order-api-token"  # where the order API's token is seeded unless named
LOCAL_ORDER_API_TOKEN = "local-order-api-token"  # the fake order API's token, by design


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        return False


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
    allow_anonymous: bool = True  # tokenless calls act as demo-customer; each browser gets a guest (local.guests)
    guest_token_ttl_seconds: int = Field(3600, gt=0, le=24 * 3600)  # a guest token's life (the page renews it)
    # API Gateway closes a WebSocket after 2 hours, however busy; tests may make it shorter, never longer
    websocket_max_connection_seconds: float = Field(2 * 3600, gt=0, le=2 * 3600)
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

    @model_validator(mode="before")
    @classmethod
    def _no_anonymous_default_off_loopback(cls, data: Any) -> Any:
        """Anonymous access defaults to on for loopback only (asked for beyond it, the check below refuses it)."""
        if isinstance(data, dict) and not is_loopback(str(data.get("host", "127.0.0.1"))):
            return {"allow_anonymous": False, **data}
        return data

    @model_validator(mode="after")
    def _guarded_off_loopback(self) -> LocalStackSettings:
        """Off loopback: a secret of its own of at least 32 bytes, and no anonymous access (docs/security.md)."""
        if self.on_loopback:
            return self
        exposed = f"HOST={self.host} exposes the stack beyond this machine"
        if self.auth_secret == LOCAL_AUTH_SECRET:
            raise ValueError(f"{exposed}: set AUTH_SECRET to a secret of your own")
        if len(self.auth_secret.encode()) < MIN_EXPOSED_SECRET_BYTES:
            raise ValueError(f"{exposed}: AUTH_SECRET must be at least {MIN_EXPOSED_SECRET_BYTES} bytes long")
        if self.allow_anonymous:
            raise ValueError(f"{exposed}: ALLOW_ANONYMOUS=true would let anyone on the network in; unset it")
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
    def on_loopback(self) -> bool:
        """Whether the stack listens on this machine only (HOST a loopback name or address)."""
        return is_loopback(self.host)

    @property
    def authority(self) -> str:
        """host:port as this stack's URLs name it (a wildcard HOST as 127.0.0.1, an IPv6 address in brackets)."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """http://host:port"""
        return f"http://{self.authority}"

    def host_names(self) -> set[str]:
        """The names a request's Host may use: the loopback ones and the configured HOST (not a wildcard)."""
        return {*LOOPBACK_HOSTS, self.host.lower()} - set(WILDCARD_HOSTS)

    def allows_host(self, host: str | None) -> bool:
        """A request's Host header names this stack: one of `host_names`, with this stack's port if it gives one.
        A page on a name an attacker pointed at this machine (DNS rebinding) sends its own name, and is refused."""
        if not host or "@" in host or "/" in host:
            return False
        try:
            parts = urlsplit(f"//{host}")
            port = parts.port
        except ValueError:  # a malformed port or address
            return False
        return parts.hostname in self.host_names() and port in (None, self.port)

    def origins(self) -> set[str]:
        """Browser origins allowed to open the WebSocket and read the HTTP API: the stack's own, plus the list."""
        own = {f"http://{name}:{self.port}" for name in {self.authority.rsplit(":", 1)[0], "127.0.0.1", "localhost"}}
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


__all__ = ["LOCAL_AUTH_SECRET", "LOOPBACK_HOSTS", "MIN_EXPOSED_SECRET_BYTES", "WILDCARD_HOSTS", "LocalStackSettings"]
