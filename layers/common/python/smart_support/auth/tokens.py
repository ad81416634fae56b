"""Development tokens (HS256, PyJWT), authenticating a request, and the authorizer context."""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from smart_support.auth.principals import ANONYMOUS, MAX_LIFETIME_SECONDS, Principal, Role, TokenVerifier
from smart_support.protocol.errors import Unauthorized

ALGORITHM = "HS256"


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
    claims: dict[str, object] = {"sub": sub, "role": role, "iat": issued, "exp": issued + ttl_seconds}
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
            sub=lambda_ctx["sub"],
            role=lambda_ctx.get("role", "customer"),
            name=lambda_ctx.get("name") or None,
            expires_at=int(lambda_ctx["exp"]) if lambda_ctx.get("exp") else None,
        )
    except (KeyError, ValueError, ValidationError) as exc:
        raise Unauthorized() from exc


# The principal types are auth.principals'; callers of this module's functions may take them from here.
__all__ = [
    "ALGORITHM",
    "ANONYMOUS",
    "Principal",
    "Role",
    "authenticate",
    "mint_token",
    "principal_from_context",
    "refused_context",
    "verify_token",
]
