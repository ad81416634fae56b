"""Token verification in the two identity modes: `shared-secret` (HS256) and `oidc` (RS256 against a JWKS)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jwt  # at init, which Lambda runs on a whole vCPU: every request to the authorizer verifies a token
from pydantic import ValidationError

from smart_support.auth.principals import MAX_LIFETIME_SECONDS, Principal, Role, TokenVerifier, display_name_claim
from smart_support.protocol.errors import Unauthorized
from smart_support.settings import IdentitySettings

INVALID = "The token is invalid or expired."


class SharedSecretVerifier:
    """HS256 tokens signed with the stack's secret: `sub`, `role`, `exp` and `iat` required, lifetime ≤ 24 h."""

    def __init__(self, secret: Callable[[], str]) -> None:
        self._secret = secret

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthorized for a bad signature, expiry, missing claims or a long life."""
        try:
            claims = jwt.decode(
                token, self._secret(), algorithms=["HS256"], options={"require": ["sub", "role", "exp", "iat"]}
            )
            if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_SECONDS:
                raise Unauthorized("The token lives longer than 24 hours; ask for a new one.")
            return Principal(
                sub=str(claims["sub"]),
                role=claims["role"],
                name=display_name_claim(claims),
                expires_at=int(claims["exp"]),
            )
        except (jwt.InvalidTokenError, ValidationError, TypeError, ValueError) as exc:
            raise Unauthorized(INVALID) from exc


class OidcVerifier:
    """RS256 tokens of an identity provider (e.g. Amazon Cognito), checked against its JWKS, issuer and audience.

    The role comes from a claim: `operator` when `role_claim` holds `operator_group` (Cognito puts a user's groups
    in `cognito:groups`), else `customer`. Keys are fetched once and cached by PyJWT's JWKS client.
    """

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        role_claim: str = "cognito:groups",
        operator_group: str = "operators",
        audience_claim: str = "aud",
        refresh_cooldown_seconds: float = 30,
    ) -> None:
        # Unknown key ids refetch the JWKS at most once per cooldown: a stream of made-up kids cannot flood the IdP.
        self._jwks = jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=3600, timeout=5, cooldown_duration=refresh_cooldown_seconds
        )
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.operator_group = operator_group
        self.audience_claim = audience_claim

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; Unauthorized for anything else (signature, issuer, audience, expiry)."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                audience=self.audience if self.audience_claim == "aud" else None,
                options={"require": ["sub", "exp", "iat", "iss"], "verify_aud": self.audience_claim == "aud"},
            )
            if self.audience_claim != "aud" and claims.get(self.audience_claim) != self.audience:
                raise Unauthorized(INVALID)  # Cognito access tokens name the app client in `client_id`
            return Principal(
                sub=str(claims["sub"]),
                role=self._role(claims),
                name=display_name_claim(claims),
                expires_at=int(claims["exp"]),
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError, ValidationError) as exc:
            raise Unauthorized(INVALID) from exc

    def _role(self, claims: Mapping[str, object]) -> Role:
        value = claims.get(self.role_claim)
        groups = value if isinstance(value, list) else str(value or "").split()
        return "operator" if self.operator_group in groups else "customer"  # only the configured group counts


def verifier_for(settings: IdentitySettings) -> TokenVerifier:
    """The verifier of the configured identity mode (the shared secret is read when first needed)."""
    if settings.identity_mode == "oidc":
        return OidcVerifier(
            settings.jwks_url,
            issuer=settings.oidc_issuer or "",
            audience=settings.oidc_audience or "",
            role_claim=settings.oidc_role_claim,
            operator_group=settings.oidc_operator_group,
            audience_claim=settings.oidc_audience_claim,
        )
    from smart_support.auth.secrets import auth_secret

    return SharedSecretVerifier(lambda: auth_secret(settings.auth_secret, settings.auth_secret_parameter))
