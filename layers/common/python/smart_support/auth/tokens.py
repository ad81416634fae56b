"""Principals and HS256 JWTs (PyJWT): mint, verify, and read the authorizer context."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from smart_support.protocol.errors import Unauthorized

Role = Literal["customer", "operator"]
ANONYMOUS_SUB = "demo-customer"
ALGORITHM = "HS256"


class Principal(BaseModel):
    """Who is calling: a customer id or an operator, from a verified token."""

    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role = "customer"

    @property
    def is_operator(self) -> bool:
        """True for the operator role."""
        return self.role == "operator"

    def context(self) -> dict[str, str]:
        """The authorizer context API Gateway passes on to the handlers."""
        return {"sub": self.sub, "role": self.role}


ANONYMOUS = Principal(sub=ANONYMOUS_SUB, role="customer")


def mint_token(
    secret: str, sub: str, role: Role = "customer", ttl_seconds: int = 12 * 3600, now: float | None = None
) -> str:
    """A signed token for `sub` with `role`, valid for `ttl_seconds`."""
    import jwt  # only the authorizer and tooling verify or mint; connect and message just read the context

    issued = int(time.time() if now is None else now)
    claims = {"sub": sub, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    """The principal of a valid token; Unauthorized for a bad signature, expiry or missing claims."""
    import jwt

    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "role", "exp"]})
        return Principal(sub=str(claims["sub"]), role=claims["role"])
    except (jwt.InvalidTokenError, ValidationError) as exc:
        raise Unauthorized("The token is invalid or expired.") from exc


def authenticate(token: str | None, secret: str, allow_anonymous: bool) -> Principal:
    """Verify a token; no token at all means the demo customer when anonymous access is allowed."""
    if not token:
        if allow_anonymous:
            return ANONYMOUS
        raise Unauthorized()
    return verify_token(secret, token)


def principal_from_context(context: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in the request context (Unauthorized if absent)."""
    context = context or {}
    lambda_ctx = context.get("lambda", context)  # HTTP API nests the simple-response context under "lambda"
    try:
        return Principal(sub=lambda_ctx["sub"], role=lambda_ctx.get("role", "customer"))
    except (KeyError, ValidationError) as exc:
        raise Unauthorized() from exc
