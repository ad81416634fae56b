"""Who a request acts for: the principal a verified token proves, the claim rules every token mode applies, and the
interface of a verifier. Both the tokens and the verifiers build on it; it imports neither."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

Role = Literal["customer", "operator"]
ANONYMOUS_SUB = "demo-customer"
MAX_LIFETIME_SECONDS = 24 * 3600  # shared-secret tokens: `exp` required, and at most a day after `iat`
MAX_NAME_CHARS = 80


def display_name_claim(claims: Mapping[str, object]) -> str | None:
    """A token's optional `name` claim, trimmed (what customers see of an operator)."""
    name = claims.get("name")
    return str(name)[:MAX_NAME_CHARS] if isinstance(name, str) and name.strip() else None


class Principal(BaseModel):
    """Who is calling: a customer id or an operator, from a verified token."""

    model_config = ConfigDict(frozen=True)

    sub: str
    role: Role = "customer"
    name: str | None = None  # the token's optional `name` claim: what a customer sees of an operator
    expires_at: int | None = None  # the token's `exp` (None: anonymous); a socket outlives it, its frames do not

    def expired(self, now: float) -> bool:
        """True once the token this principal came with has expired."""
        return self.expires_at is not None and now >= self.expires_at

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
        if self.expires_at is not None:
            context["exp"] = str(self.expires_at)
        return context


ANONYMOUS = Principal(sub=ANONYMOUS_SUB, role="customer")


class TokenVerifier(Protocol):
    """Turns a bearer token into the principal it proves, or raises Unauthorized."""

    def verify(self, token: str) -> Principal:
        """The principal of a valid token."""
