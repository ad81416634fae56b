"""Settings from the environment: one model per process kind, composed from small field groups.

Every default lives here. A field reads the environment variable of its name in capitals (or its
validation alias; template.yaml Globals and each function's Environment), an empty variable counts as unset;
`load_settings(kind)` validates once per cold start and raises InvalidSettings naming each missing or bad
variable, so a handler whose settings are wrong fails to import. Plain pydantic models read the environment
themselves: pydantic-settings added ~50 ms to every cold start (it imports asyncio, argparse and dotenv) for
what `from_environment` does here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator


class FieldGroup(BaseModel):
    """Base of every group: frozen (hashable, so services can be cached per settings), env names in capitals."""

    # A field's default is given as `Field(default=...)`: the type checker takes a positional one for none, and every
    # model built without that field (from the environment, in a test) would need a suppression.

    # defer_build: a group's validator is built when a process first loads it, so each process builds only its own
    model_config = ConfigDict(
        frozen=True, extra="ignore", hide_input_in_errors=True, validate_by_name=True, defer_build=True
    )

    def __init__(self, **values: object) -> None:
        """Fields not given read their environment variables (as pydantic-settings did)."""
        super().__init__(**{**self.environment_values(), **values})

    @classmethod
    def environment_values(cls, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The set, non-empty environment variables of this model's fields, by field name."""
        environ = os.environ if environ is None else environ
        values = {name: environ.get(env_name(cls, name), "") for name in cls.model_fields}
        return {name: value for name, value in values.items() if value != ""}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Validate the fields from their environment variables (empty ones count as unset)."""
        return cls.model_validate(cls.environment_values(environ))


# ---------------------------------------------------------------- field groups


class SessionSettings(FieldGroup):
    """How long an idle conversation lives."""

    session_ttl_seconds: PositiveInt = 1800


class ConversationSettings(SessionSettings):
    """The conversations table (sessions, connections, approvals, transcripts, tickets, analytics)."""

    conversations_table: str


class StreamingSettings(FieldGroup):
    """The @connections endpoint events are posted to."""

    websocket_endpoint: str


class WorkflowSettings(FieldGroup):
    """The turn state machine (needed to start executions; answering a task token needs no ARN)."""

    state_machine_arn: str


class RateLimitSettings(FieldGroup):
    """Per-principal limits (token buckets: a burst up to the limit passes)."""

    rate_limit_turns_per_minute: PositiveInt = 20
    rate_limit_frames_per_second: PositiveInt = 10


class ApprovalSettings(FieldGroup):
    """How long a pending approval waits for a human."""

    approval_timeout_seconds: PositiveInt = 900


BEDROCK_DEFAULT_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"  # Claude Haiku 4.5, through an inference profile
# Bedrock's cross-region inference profiles by the geography prefix of their id: the regions that may call them.
INFERENCE_PROFILE_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-", "us-west-"),
    "us-gov": ("us-gov-",),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-",),
}


def inference_profile_geography(region: str) -> str:
    """The geography prefix of the inference profiles `region` calls by default (`global` where it has none)."""
    for geography in ("us-gov", "us", "eu", "apac"):
        if region.startswith(INFERENCE_PROFILE_REGIONS[geography]):
            return geography
    return "global"


class AgentModelSettings(FieldGroup):
    """Which chat model the agent runs, and where (offline, Amazon Bedrock, or any OpenAI-compatible endpoint)."""

    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    model_provider: Literal["offline", "bedrock", "openai"] = "offline"
    bedrock_model_id: str | None = None  # unset: Claude Haiku 4.5 through the region's own geography's profile
    openai_base_url: str | None = None  # the endpoint's /v1 URL, e.g. llama.cpp's http://127.0.0.1:8081/v1
    openai_model: str = "local"  # llama.cpp serves one model whatever the name; vLLM and hosted APIs need theirs
    openai_api_key: str | None = Field(default=None, repr=False)  # locally; llama.cpp needs none
    openai_api_key_parameter: str | None = None  # in AWS: the SecureString holding the key (none: no key)
    # per read: a small model on a busy CPU may think longer than a hosted one before its first byte
    openai_timeout_seconds: float = Field(default=60, gt=0, le=600)
    offline_token_delay_ms: NonNegativeInt = 20
    offline_first_token_ms: NonNegativeInt = 0  # the offline model's wait before each call's first token

    @property
    def bedrock_model(self) -> str:
        """The model (or inference profile) id the agent calls on Bedrock."""
        default = f"{inference_profile_geography(self.region)}.{BEDROCK_DEFAULT_MODEL}"
        return self.bedrock_model_id or default

    @model_validator(mode="after")
    def _inference_profile_callable_from_region(self) -> Self:
        # A `us.` profile called from eu-west-1 fails every turn (ValidationException): fail the cold start instead.
        if self.model_provider != "bedrock" or not self.bedrock_model_id:
            return self
        geography = self.bedrock_model_id.split(".", 1)[0]
        callers = INFERENCE_PROFILE_REGIONS.get(geography)
        if callers is not None and not self.region.startswith(callers):
            own = inference_profile_geography(self.region)
            raise ValueError(
                f"BEDROCK_MODEL_ID {self.bedrock_model_id} is a cross-region inference profile for the {geography} "
                f"geography, which {self.region} cannot call: use a {own}. or global. profile there, or leave "
                "BEDROCK_MODEL_ID empty for the region's own"
            )
        return self

    @model_validator(mode="after")
    def _openai_needs_base_url(self) -> Self:
        if self.model_provider != "openai":
            return self
        require_http_url(
            "OPENAI_BASE_URL",
            self.openai_base_url,
            "when MODEL_PROVIDER is openai (the endpoint's /v1 URL, e.g. http://127.0.0.1:8081/v1)",
        )
        return self


def require_http_url(name: str, value: str | None, when: str) -> None:
    """ValueError unless `value` is an http(s) URL; `when` says why the setting is required."""
    if not value:
        raise ValueError(f"{name} is required {when}")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http:// or https:// URL")


class ContextSettings(FieldGroup):
    """What the model sees of a conversation: the summary and recent turns within a token budget (agent/context.py)."""

    context_tokens: int = Field(default=6000, ge=4000)
    context_turns: PositiveInt = 4
    # Who picks the specialist of a turn: the customer's words (no model call) or the model (docs/agent.md, eval).
    router: Literal["keywords", "model"] = "keywords"


class KnowledgeSettings(FieldGroup):
    """Where the agent finds the help-center index (knowledge/source.py): the S3 object the ingest function writes,
    when there is one, else a file (the index shipped in the package unless KNOWLEDGE_INDEX_PATH names another)."""

    knowledge_bucket: str | None = None
    knowledge_index_key: str = "index/help-center.sqlite"
    knowledge_index_path: str | None = None
    knowledge_check_seconds: NonNegativeInt = 60  # how often (at most) a warm agent asks whether the index changed


class KnowledgeIngestSettings(FieldGroup):
    """The ingest function: the articles under a prefix of the knowledge bucket, the index it writes beside them."""

    knowledge_bucket: str
    knowledge_articles_prefix: str = "articles/"
    knowledge_index_key: str = "index/help-center.sqlite"


class OrdersSettings(FieldGroup):
    """The orders table (the agent's tools; `make seed`)."""

    orders_table: str


class OrderBackendSettings(FieldGroup):
    """Where the agent's order tools read and write: the orders table, or the company's REST API
    (docs/integrations.md), reached with a bearer token from an SSM SecureString."""

    order_backend: Literal["dynamodb", "http"] = "dynamodb"
    order_api_url: str | None = None  # the API's base URL, e.g. https://orders.example.com/v1
    order_api_token: str | None = Field(default=None, repr=False)  # locally; in AWS the parameter below
    order_api_token_parameter: str | None = None  # the SecureString holding the bearer token (none: no token)
    order_api_timeout_seconds: float = Field(default=5, gt=0, le=30)  # per request (connect, and each read)
    order_api_attempts: int = Field(default=3, ge=1, le=5)  # per call, GETs and keyed writes alike
    order_api_breaker_failures: PositiveInt = 5  # consecutive failed calls that open the circuit
    order_api_breaker_seconds: float = Field(default=30, gt=0, le=600)  # how long it stays open

    @model_validator(mode="after")
    def _http_needs_url(self) -> Self:
        if self.order_backend != "http":
            return self
        require_http_url(
            "ORDER_API_URL", self.order_api_url, "when ORDER_BACKEND is http (the API's base URL, docs/integrations.md)"
        )
        if self.order_api_token_parameter and not self.order_api_token_parameter.startswith("/"):
            raise ValueError("ORDER_API_TOKEN_PARAMETER must be an SSM parameter name starting with /")
        return self


class AgentDataSettings(OrdersSettings):
    """The agent's tables and how often it flushes streamed tokens."""

    checkpoints_table: str
    stream_flush_ms: NonNegativeInt = 50


class IdentitySettings(FieldGroup):
    """How callers are authenticated (the secret comes from SSM unless AUTH_SECRET is given)."""

    allow_anonymous: bool = False
    identity_mode: Literal["shared-secret", "oidc"] = "shared-secret"
    auth_secret: str | None = Field(default=None, repr=False)
    auth_secret_parameter: str = "/smart-support/auth-secret"  # noqa: S105 - a parameter name, not a secret
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # default: the issuer's /.well-known/jwks.json
    oidc_audience_claim: str = "aud"  # Cognito access tokens carry the app client in `client_id`
    oidc_role_claim: str = "cognito:groups"
    oidc_operator_group: str = "operators"

    @model_validator(mode="after")
    def _oidc_needs_issuer_and_audience(self) -> IdentitySettings:
        if self.identity_mode == "oidc" and not (self.oidc_issuer and self.oidc_audience):
            raise ValueError("OIDC_ISSUER and OIDC_AUDIENCE are required when IDENTITY_MODE is oidc")
        return self

    @property
    def jwks_url(self) -> str:
        """Where the identity provider publishes its signing keys."""
        return self.oidc_jwks_url or f"{(self.oidc_issuer or '').rstrip('/')}/.well-known/jwks.json"


class HandoffSettings(ConversationSettings, StreamingSettings):
    """Human hand-off: sessions, tickets and transcripts, and the events it posts to the customer and watchers."""


# ---------------------------------------------------------------- one model per process kind


class ConnectSettings(ConversationSettings):
    """$connect and $disconnect: the connection records."""


class RateLimitedSettings(ConversationSettings, RateLimitSettings):
    """A function that enforces the per-principal limits (the buckets live in the conversations table)."""


class MessageSettings(RateLimitedSettings, HandoffSettings, WorkflowSettings):
    """The WebSocket message routes: sessions, turns, approvals, replies, messages for an operator, watching."""


class WorkflowTaskSettings(ConversationSettings, StreamingSettings, ApprovalSettings):
    """The state machine's AwaitApproval and ReportFailure tasks."""


class AgentSettings(
    ConversationSettings,
    ApprovalSettings,
    StreamingSettings,
    WorkflowSettings,
    AgentModelSettings,
    AgentDataSettings,
    OrderBackendSettings,
    ContextSettings,
    KnowledgeSettings,
):
    """The agent task: model, context budget, stores, checkpoints, streaming, starting a queued next turn, and the
    help center."""


class ApiSettings(RateLimitedSettings, HandoffSettings):
    """The HTTP API (its hand-off routes post events to the customer's connection)."""


class AuthorizerSettings(IdentitySettings):
    """The Lambda authorizer."""


# ---------------------------------------------------------------- loading

Kind = TypeVar("Kind", bound=FieldGroup)


class InvalidSettings(RuntimeError):
    """The environment misses a setting or holds a bad value; the message names each variable."""


def env_name(model: type[FieldGroup], location: str | int) -> str:
    """The environment variable behind a field (or alias) of `model`."""
    field = model.model_fields.get(str(location))
    alias = field.validation_alias if field is not None else None
    return (alias if isinstance(alias, str) else str(location)).upper()


@cache
def load_settings(kind: type[Kind]) -> Kind:
    """The settings of this process kind, validated on first use (cold start) and then shared."""
    try:
        return kind.from_environment()
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(kind, error['loc'][0]) if error['loc'] else kind.__name__}: "
            f"{error['msg'][:1].lower()}{error['msg'][1:]}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidSettings(f"{kind.__name__}: {problems}") from None
