"""Our HS256 tokens against the real better-auth package, which holds the same secret (SPEC §2, §4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from adapters.auth import SecretIssuer, SecretVerifier
from domain.errors import InvalidToken
from domain.types import UserId
from domain.users import Principal, User
from tests.better_auth_js import BetterAuthJs
from tests.tokens import SECRET

BASE = "http://localhost:3000"
PASSWORD = "correct horse battery"


async def test_better_auth_refuses_our_tokens_to_verify_an_email(
    better_auth_js: BetterAuthJs,
) -> None:
    # Anyone may sign up here with someone else's address; the token they get must not
    # verify (or take over) that address on a Better Auth frontend sharing our secret.
    email = f"victim.{uuid.uuid4().hex[:8]}@example.com"
    squatter = User(id=UserId(uuid.uuid4().hex), email=email, created_at=datetime.now(UTC))
    now = datetime.now(UTC)
    tokens = {
        "ours": SecretIssuer(SECRET, issuer=None).issue(squatter, now).token,
        "ours, with iss and aud": SecretIssuer(SECRET, issuer=BASE).issue(squatter, now).token,
    }
    results = await better_auth_js.run(
        "verify-email",
        {"secret": SECRET.decode(), "email": email, "password": PASSWORD, "tokens": tokens},
    )

    control = results.pop("better-auth")
    own_token = control.pop("token")
    assert control == {"status": 200, "code": None, "emailVerified": True, "jwtVerify": "valid"}
    refused = {
        "status": 401,
        "code": "INVALID_TOKEN",
        "emailVerified": False,
        "jwtVerify": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    }
    assert sorted(results) == sorted(tokens)
    for label, result in results.items():
        assert result == refused, label
    # Nor do we take Better Auth's verification token for a session.
    with pytest.raises(InvalidToken):
        await SecretVerifier(SECRET).verify(own_token)


async def test_better_auths_session_cookie_names_its_user(better_auth_js: BetterAuthJs) -> None:
    email = f"Ada.{uuid.uuid4().hex[:8]}@Example.com"
    [signed_up] = await better_auth_js.run(
        "session-cookie",
        {
            "secret": SECRET.decode(),
            "users": [{"email": email, "password": PASSWORD, "name": "Ada"}],
        },
    )
    token = signed_up["cookies"]["better-auth.session_data"]
    expected = Principal(user_id=UserId(signed_up["userId"]), email=email.lower())

    assert await SecretVerifier(SECRET).verify(token) == expected
    # It carries no iss/aud, which HS256 tokens may omit when BETTER_AUTH_URL is set.
    assert await SecretVerifier(SECRET, issuer=BASE).verify(token) == expected
    with pytest.raises(InvalidToken):
        await SecretVerifier(b"another-secret-of-more-than-thirty-two-bytes").verify(token)
    # The session cookie Better Auth reads on its side is not a bearer token of any kind.
    with pytest.raises(InvalidToken):
        await SecretVerifier(SECRET).verify(signed_up["cookies"]["better-auth.session_token"])
