"""Principals, development tokens (HS256, PyJWT), and the authorizer context."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from smart_support.protocol.errors import Unauthorized

if TYPE_CHECKING:
    from smart_support.auth.verifiers import TokenVerifier

Role = Literal["customer", "operator"]
ANONYMOUS_SUB = "demo-customer"
ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 24 * 3600  # shared-secret tokens: `exp` required, and at most a day after `iat`
MAX_NAME_CHARS = 80


def display_name_claim(claims: dict[str, Any]) -> str | None:
    """A token's optional `name` claim, trimmed (what customers see of an operator)."""
    name = claims.get("name")
    return str(name)[:MAX_NAME_CHARS] if isinstance(name, str) and name.strip() else None


class Principal(BaseModel):
    """Who is calling: a customer id or an operator, from a verified token."""

    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role = "customer"
    name: str | None = None  # the token's optional `name` claim: what a customer sees of an operator

    @property
    def is_operator(self) -> bool:
        """True for the operator role."""
        return self.role == "operator"

    @property
    def display_name(self) -> str:
        """The name shown to others: the `name` claim, else the subject."""
        return self.name or self.sub

    def context(self) -> dict[str, str]:
        """The authorizer context API Gateway passes on to the handlers."""
        context = {"sub": self.sub, "role": self.role}
        if self.name:
            context["name"] = self.name
        return context


ANONYMOUS = Principal(sub=ANONYMOUS_SUB, role="customer")


def mint_token(
    secret: str,
    sub: str,
    role: Role = "customer",
    ttl_seconds: int = 12 * 3600,
    now: float | None = None,
    name: str | None = None,
) -> str:
    """A signed token for `sub` with `role` (and a display `name`), valid for `ttl_seconds` (at most 24 h)."""
    import jwt  # only the authorizer and tooling verify or mint; connect and message just read the context

    if ttl_seconds > MAX_LIFETIME_SECONDS:
        raise ValueError("a token lives at most 24 hours")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    if name:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    """The principal of a valid shared-secret token (see SharedSecretVerifier)."""
    from smart_support.auth.verifiers import SharedSecretVerifier

    return SharedSecretVerifier(lambda: secret).verify(token)


def authenticate(token: str | None, verifier: TokenVerifier | str, allow_anonymous: bool) -> Principal:
    """Verify a token; no token at all means the demo customer when anonymous access is allowed."""
    if not token:
        if allow_anonymous:
            return ANONYMOUS
        raise Unauthorized()
    if isinstance(verifier, str):
        return verify_token(verifier, token)
    return verifier.verify(token)


def refused_context(token: str | None) -> dict[str, str]:
    """The authorizer's context for a request without a valid token (the HTTP API answers it 401, the WebSocket
    handshake is denied)."""
    return {"refused": "invalid" if token else "missing"}


def principal_from_context(context: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in the request context (Unauthorized if absent or refused)."""
    context = context or {}
    lambda_ctx = context.get("lambda", context)  # HTTP API nests the simple-response context under "lambda"
    if lambda_ctx.get("refused") == "invalid":
        raise Unauthorized("The token is invalid or expired.")
    try:
        return Principal(
            sub=lambda_ctx["sub"], role=lambda_ctx.get("role", "customer"), name=lambda_ctx.get("name") or None
        )
    except (KeyError, ValidationError) as exc:
        raise Unauthorized() from exc
