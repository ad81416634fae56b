"""Tokens: HS256 JWTs via PyJWT; anonymous access only without a token."""

import time

import jwt
import pytest

from smart_support.auth.tokens import (
    ANONYMOUS,
    Principal,
    authenticate,
    mint_token,
    principal_from_context,
    verify_token,
)
from smart_support.protocol.errors import Unauthorized

SECRET = "unit-test-secret-0123456789abcdef-0123"


def test_a_minted_token_verifies_to_its_principal():
    now = int(time.time())
    token = mint_token(SECRET, "c-2001", "operator", now=now)
    assert verify_token(SECRET, token) == Principal(sub="c-2001", role="operator", expires_at=now + 12 * 3600)


def test_forged_signature_is_refused():
    token = mint_token("another-secret-0123456789abcdef-01234", "demo-customer", "operator")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)


def test_expired_token_is_refused():
    token = mint_token(SECRET, "demo-customer", ttl_seconds=10, now=1_000_000)
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "iat": 3_999_999_000, "exp": 4_000_000_000},
        {"role": "customer", "iat": 3_999_999_000, "exp": 4_000_000_000},
        {"sub": "x", "role": "admin", "iat": 3_999_999_000, "exp": 4_000_000_000},
        {"sub": "x", "role": "customer"},
        {"sub": "x", "role": "customer", "exp": 4_000_000_000},  # no iat: its lifetime is unknown
    ],
)
def test_missing_or_bad_claims_are_refused(claims):
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)


def test_a_token_living_longer_than_a_day_is_refused():
    # Given a shared-secret token valid for 25 hours
    token = jwt.encode(
        {"sub": "x", "role": "customer", "iat": 4_000_000_000 - 25 * 3600, "exp": 4_000_000_000}, SECRET, "HS256"
    )
    # Then it is refused, and nothing mints one
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)
    with pytest.raises(ValueError, match="24 hours"):
        mint_token(SECRET, "x", ttl_seconds=25 * 3600)


def test_alg_none_is_refused():
    token = jwt.encode({"sub": "x", "role": "operator", "exp": 4_000_000_000}, "", algorithm="none")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token)


def test_no_token_is_the_demo_customer_only_when_anonymous_is_allowed():
    assert authenticate(None, SECRET, allow_anonymous=True) == ANONYMOUS
    with pytest.raises(Unauthorized):
        authenticate(None, SECRET, allow_anonymous=False)


def test_an_invalid_token_is_refused_even_when_anonymous_is_allowed():
    with pytest.raises(Unauthorized):
        authenticate("garbage", SECRET, allow_anonymous=True)


def test_principal_from_websocket_and_http_contexts():
    assert principal_from_context({"sub": "a", "role": "customer", "principalId": "a"}).sub == "a"
    assert principal_from_context({"lambda": {"sub": "op", "role": "operator"}}).is_operator
    with pytest.raises(Unauthorized):
        principal_from_context(None)
