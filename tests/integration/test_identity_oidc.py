"""The `oidc` identity mode: RS256 tokens verified against a JWKS served on loopback, issuer and audience checked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from smart_support.auth.tokens import Principal, authenticate
from smart_support.auth.verifiers import OidcVerifier, verifier_for
from smart_support.protocol.errors import Unauthorized
from smart_support.settings import AuthorizerSettings

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
CLIENT_ID = "app-client-1"


class Provider:
    """An identity provider's signing keys, published as a JWKS on 127.0.0.1."""

    def __init__(self) -> None:
        self.keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps({"keys": [provider.jwk(kid) for kid in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"

    def jwk(self, kid: str) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**key, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        now = int(time.time())
        claims = {"sub": "user-1", "iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 3600, **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()
    yield served
    served.server.shutdown()


@pytest.fixture
def verifier(provider: Provider) -> OidcVerifier:
    return OidcVerifier(provider.jwks_url, issuer=ISSUER, audience=CLIENT_ID)


def test_a_provider_token_is_a_customer_and_the_operators_group_an_operator(provider, verifier):
    exp = int(time.time()) + 600
    assert verifier.verify(provider.token(exp=exp)) == Principal(sub="user-1", role="customer", expires_at=exp)
    operator = provider.token(sub="op-1", exp=exp, **{"cognito:groups": ["support", "operators"]})
    assert verifier.verify(operator) == Principal(sub="op-1", role="operator", expires_at=exp)


@pytest.mark.parametrize(
    "claim", [{"cognito:groups": "operator"}, {"cognito:groups": ["operator"]}, {"cognito:groups": "support admins"}]
)
def test_only_the_configured_operator_group_makes_an_operator(provider, verifier, claim):
    # A role claim of exactly "operator" (or any other group) is not the configured group "operators"
    assert verifier.verify(provider.token(sub="u-2", **claim)).role == "customer"
    custom = OidcVerifier(provider.jwks_url, issuer=ISSUER, audience=CLIENT_ID, operator_group="support")
    assert custom.verify(provider.token(sub="u-3", **{"cognito:groups": "support admins"})).role == "operator"
    assert custom.verify(provider.token(sub="u-4", **{"cognito:groups": ["operators"]})).role == "customer"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example"},
        {"aud": "another-client"},
        {"exp": 1_000_000, "iat": 999_000},
        {"sub": None},
        {"iat": None},
    ],
)
def test_wrong_issuer_audience_expiry_or_claims_are_refused(provider, verifier, overrides):
    with pytest.raises(Unauthorized):
        verifier.verify(provider.token(**overrides))


def test_a_token_signed_with_another_key_or_the_public_key_as_hmac_is_refused(provider, verifier):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": "x", "iss": ISSUER, "aud": CLIENT_ID, "exp": 4_000_000_000}, stranger, "RS256", {"kid": "k1"}
    )
    with pytest.raises(Unauthorized):
        verifier.verify(forged)
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode({"sub": "x", "role": "operator", "exp": 4_000_000_000}, "", algorithm="none"))


def test_a_rotated_key_is_fetched_once_and_an_unknown_kid_is_refused(provider):
    verifier = OidcVerifier(provider.jwks_url, issuer=ISSUER, audience=CLIENT_ID, refresh_cooldown_seconds=0)
    # Given a verified token (the JWKS fetched once) and then a new signing key at the provider
    verifier.verify(provider.token())
    verifier.verify(provider.token())
    assert provider.fetches == 1
    provider.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Then a token with the new key verifies (the JWKS is fetched again), and a kid nobody published does not
    assert verifier.verify(provider.token(kid="k2")).sub == "user-1"
    with pytest.raises(Unauthorized):
        verifier.verify(jwt.encode({"sub": "x"}, provider.keys["k1"], "RS256", {"kid": "nope"}))


def test_the_authorizer_settings_choose_the_mode(provider, monkeypatch):
    # Given oidc mode from the environment the template sets
    monkeypatch.setenv("IDENTITY_MODE", "oidc")
    monkeypatch.setenv("OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("OIDC_AUDIENCE", CLIENT_ID)
    monkeypatch.setenv("OIDC_JWKS_URL", provider.jwks_url)
    verifier = verifier_for(AuthorizerSettings())  # from the environment
    # Then provider tokens authenticate and shared-secret tokens do not
    assert authenticate(provider.token(), verifier, allow_anonymous=False).sub == "user-1"
    from smart_support.auth.tokens import mint_token

    with pytest.raises(Unauthorized):
        authenticate(mint_token("x" * 40, "demo-customer"), verifier, allow_anonymous=False)
    # And oidc without an issuer is a configuration error naming the variables
    monkeypatch.delenv("OIDC_ISSUER")
    with pytest.raises(ValueError, match="OIDC_ISSUER"):
        AuthorizerSettings()  # from the environment
