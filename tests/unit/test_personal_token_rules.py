"""Personal access tokens in the domain: the secret's form and strength, its hash, the request."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from datetime import timedelta

import pytest

from domain.errors import ValidationFailed
from domain.personal_tokens import (
    DEFAULT_LIFETIME,
    SECRET_LENGTH,
    TOKEN_LENGTH,
    looks_personal,
    new_secret,
    parse_token_request,
    same_hash,
    token_hash,
)
from domain.policy import Scope


def test_a_secret_has_the_prefix_and_at_least_160_random_bits() -> None:
    secrets = {new_secret() for _ in range(200)}
    assert len(secrets) == 200
    for secret in secrets:
        assert re.fullmatch(r"tsk_[A-Za-z0-9]{40}", secret)
        assert len(secret) == TOKEN_LENGTH
        assert looks_personal(secret)
    assert SECRET_LENGTH * math.log2(62) >= 160
    # Every symbol of the alphabet turns up: the characters are drawn from all 62.
    assert len(set("".join(s[4:] for s in secrets))) == 62


def test_what_is_stored_is_the_sha256_of_the_whole_token() -> None:
    token = new_secret()
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_hash(token) != token_hash(token[:-1] + "x")
    assert token[4:] not in token_hash(token)


def test_hashes_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A spy on the standard library's constant-time comparison: the check goes through it.
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    digest = token_hash(new_secret())
    assert same_hash(digest, digest)
    assert not same_hash(digest, token_hash(new_secret()))
    assert len(seen) == 2


def test_a_request_names_the_token_and_its_scopes() -> None:
    wanted = parse_token_request({"name": " backup ", "scopes": ["tasks:read"]})
    assert wanted.name == "backup"
    assert wanted.scopes == frozenset({Scope.TASKS_READ})
    assert wanted.lifetime == DEFAULT_LIFETIME
    both = parse_token_request(
        {"name": "sync", "scopes": ["tasks:write", "tasks:read"], "expires_in": 3600}
    )
    assert both.scopes == frozenset(Scope)
    assert both.lifetime == timedelta(hours=1)
    whole = parse_token_request({"name": "n", "scopes": ["tasks:read"], "expires_in": 3600.0})
    assert whole.lifetime == timedelta(hours=1)


BAD: dict[str, tuple[dict[str, object], str, str]] = {
    "no name": ({"scopes": ["tasks:read"]}, "name", "required"),
    "blank name": ({"name": "  ", "scopes": ["tasks:read"]}, "name", "invalid_length"),
    "long name": ({"name": "x" * 101, "scopes": ["tasks:read"]}, "name", "invalid_length"),
    "control in name": ({"name": "a\x00b", "scopes": ["tasks:read"]}, "name", "control_character"),
    "no scopes": ({"name": "n"}, "scopes", "required"),
    "empty scopes": ({"name": "n", "scopes": []}, "scopes", "invalid_type"),
    "unknown scope": ({"name": "n", "scopes": ["admin"]}, "scopes", "invalid_choice"),
    "scope not a string": ({"name": "n", "scopes": [1]}, "scopes", "invalid_choice"),
    "too short": (
        {"name": "n", "scopes": ["tasks:read"], "expires_in": 59},
        "expires_in",
        "out_of_range",
    ),
    "too long": (
        {"name": "n", "scopes": ["tasks:read"], "expires_in": 366 * 86400 + 1},
        "expires_in",
        "out_of_range",
    ),
    "null expiry": (
        {"name": "n", "scopes": ["tasks:read"], "expires_in": None},
        "expires_in",
        "out_of_range",
    ),
    "fractional expiry": (
        {"name": "n", "scopes": ["tasks:read"], "expires_in": 3600.5},
        "expires_in",
        "out_of_range",
    ),
    "boolean expiry": (
        {"name": "n", "scopes": ["tasks:read"], "expires_in": True},
        "expires_in",
        "out_of_range",
    ),
    "unknown field": (
        {"name": "n", "scopes": ["tasks:read"], "admin": True},
        "admin",
        "unknown_field",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_request_names_the_broken_rule(case: str) -> None:
    body, field, code = BAD[case]
    with pytest.raises(ValidationFailed) as caught:
        parse_token_request(body)
    assert [(d.field, d.code) for d in caught.value.details] == [(field, code)]
