"""The Better Auth JWKS verifier and the composite router, against real keys and a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import OKPKey, RSAKey
from joserfc.util import int_to_base64

from adapters.auth import CompositeVerifier, JwksVerifier, SecretVerifier
from domain.errors import InvalidToken
from domain.types import UserId
from domain.users import Principal
from tests.better_auth import (
    BASE,
    SECRET,
    JwksServer,
    SigningKey,
    b64,
    better_auth_claims,
    compact,
    ec_key,
    ed25519_key,
    rsa_key,
    serving,
)


@attrs.frozen
class Keys:
    """One key of every kind the JWKS verifier accepts, and spares for rotation and attacks."""

    ed: SigningKey
    p256: SigningKey
    p521: SigningKey
    rsa: SigningKey
    rotated: SigningKey
    attacker: SigningKey

    def published(self) -> list[dict[str, Any]]:
        """The JWKS entries a Better Auth server would publish before any rotation."""
        return [self.ed.jwk, self.p256.jwk, self.p521.jwk, self.rsa.jwk]


@pytest.fixture(scope="module")
def keys() -> Keys:
    """Keys generated once for this module (RSA generation is slow)."""
    return Keys(
        ed=ed25519_key("ed-1"),
        p256=ec_key("p256-1", "P-256", "ES256"),
        p521=ec_key("p521-1", "P-521", "ES512"),
        rsa=rsa_key("rsa-1", "RS256"),
        rotated=ed25519_key("ed-2"),
        attacker=ed25519_key("evil"),
    )


@pytest.fixture
async def server(keys: Keys) -> AsyncIterator[JwksServer]:
    """Better Auth's JWKS endpoint, publishing the initial keys."""
    async with serving({"keys": keys.published()}) as running:
        yield running


@asynccontextmanager
async def jwks_verifier(url: str, **options: Any) -> AsyncIterator[JwksVerifier]:
    """A JwksVerifier for `url` with the issuer BASE, closed on exit."""
    options.setdefault("issuer", BASE)
    verifier = JwksVerifier(url, **options)
    try:
        yield verifier
    finally:
        await verifier.aclose()


@pytest.fixture
async def verifier(server: JwksServer) -> AsyncIterator[JwksVerifier]:
    """A JWKS verifier with default settings over the test server."""
    async with jwks_verifier(server.url) as made:
        yield made


EXPECTED = Principal(user_id=UserId("ba_user_123"), email="ada@example.com")


@pytest.mark.parametrize(
    ("name", "alg"),
    [("ed", "EdDSA"), ("p256", "ES256"), ("p521", "ES512"), ("rsa", "RS256"), ("rsa", "PS256")],
)
async def test_every_supported_algorithm_is_accepted(
    keys: Keys, verifier: JwksVerifier, server: JwksServer, name: str, alg: str
) -> None:
    key: SigningKey = getattr(keys, name).under(alg)
    assert await verifier.verify(key.token()) == EXPECTED
    assert len(server.requests) == 1


async def test_the_key_set_is_fetched_once_and_cached(
    keys: Keys, verifier: JwksVerifier, server: JwksServer
) -> None:
    for key in (keys.ed, keys.p256, keys.p521, keys.rsa, keys.ed):
        await verifier.verify(key.token())
    assert server.requests == ["GET /api/auth/jwks HTTP/1.1"]


async def test_a_rotated_key_is_accepted_after_one_refetch(keys: Keys, server: JwksServer) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.2) as verifier:
        await verifier.verify(keys.ed.token())
        server.document = {"keys": [keys.rotated.jwk, *keys.published()]}
        await asyncio.sleep(0.25)
        assert await verifier.verify(keys.rotated.token()) == EXPECTED
        await verifier.verify(keys.ed.token())
        assert len(server.requests) == 2


async def test_an_unknown_kid_refetches_at_most_once_per_interval(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.3) as verifier:
        await verifier.verify(keys.ed.token())
        server.document = {"keys": [keys.rotated.jwk, *keys.published()]}
        # Within the interval the new key is not looked for: the JWKS was fetched just now.
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.rotated.token())
        assert len(server.requests) == 1
        await asyncio.sleep(0.35)
        await verifier.verify(keys.rotated.token())
        assert len(server.requests) == 2


async def test_a_flood_of_unknown_kids_shares_one_fetch(keys: Keys, server: JwksServer) -> None:
    tokens = [keys.attacker.token(header={"kid": f"unknown-{i}"}) for i in range(50)]
    async with jwks_verifier(server.url) as verifier:
        results = await asyncio.gather(*map(verifier.verify, tokens), return_exceptions=True)
        assert all(isinstance(result, InvalidToken) for result in results)
        assert len(server.requests) == 1
        results = await asyncio.gather(*map(verifier.verify, tokens), return_exceptions=True)
        assert all(isinstance(result, InvalidToken) for result in results)
        assert len(server.requests) == 1


async def test_with_the_server_down_known_keys_work_and_unknown_kids_fail_fast(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.0) as verifier:
        await verifier.verify(keys.ed.token())
        await server.stop()
        started = time.monotonic()
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.rotated.token())
        assert time.monotonic() - started < 1.0
        assert await verifier.verify(keys.ed.token()) == EXPECTED
        assert await verifier.verify(keys.rsa.token()) == EXPECTED


async def test_a_hanging_server_costs_at_most_the_fetch_timeout(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.0, fetch_timeout=0.3) as verifier:
        await verifier.verify(keys.ed.token())
        server.hang = True
        started = time.monotonic()
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.rotated.token())
        assert 0.25 < time.monotonic() - started < 1.0
        assert await verifier.verify(keys.ed.token()) == EXPECTED
        assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (500, {"keys": []}),
        (404, {"keys": []}),
        (200, b"this is not json"),
        (200, b'{"keys": "nope"}'),
        (200, b"[]"),
        (200, b"{" * 2000),
        (200, b'{"keys": []}' + b" " * 300_000),
    ],
    ids=repr,
)
async def test_a_failed_fetch_keeps_the_known_keys(
    keys: Keys, server: JwksServer, status: int, document: Any
) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.0) as verifier:
        await verifier.verify(keys.ed.token())
        server.status, server.document = status, document
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.rotated.token())
        assert await verifier.verify(keys.ed.token()) == EXPECTED
        assert len(server.requests) == 2


async def test_an_unreachable_jwks_at_start_is_an_invalid_token(keys: Keys) -> None:
    async with serving({"keys": []}) as gone:
        url = gone.url
    async with jwks_verifier(url, fetch_timeout=0.5) as verifier:
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.ed.token())


async def test_a_stale_key_set_is_refreshed_so_removed_keys_stop_working(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, refetch_interval=0.15, max_key_age=0.2) as verifier:
        await verifier.verify(keys.ed.token())
        server.document = {"keys": [keys.rotated.jwk]}
        await asyncio.sleep(0.25)
        # The stale set still answers while it is refreshed in the background.
        assert await verifier.verify(keys.ed.token()) == EXPECTED
        await asyncio.sleep(0.05)
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.ed.token())
        await verifier.verify(keys.rotated.token())
        assert len(server.requests) == 2


async def test_unusable_jwks_entries_are_skipped(keys: Keys, server: JwksServer) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    numbers = weak.public_key().public_numbers()
    weak_jwk = {"kty": "RSA", "kid": "weak", "n": int_to_base64(numbers.n), "e": "AQAB"}
    server.document = {
        "keys": [
            "not a key",
            {"kty": "OKP", "crv": "Ed25519"},
            {"kty": "OKP", "kid": "broken", "crv": "Ed25519", "x": "!!"},
            {"kty": "oct", "kid": "hmac", "k": b64(SECRET)},
            {"kty": "XYZ", "kid": "alien"},
            weak_jwk,
            keys.ed.jwk,
        ]
    }
    async with jwks_verifier(server.url) as verifier:
        assert await verifier.verify(keys.ed.token()) == EXPECTED
        weak_token = compact(
            {"alg": "RS256", "kid": "weak", "typ": "JWT"}, better_auth_claims(), weak
        )
        hmac_token = compact({"alg": "HS256", "kid": "hmac"}, better_auth_claims(), SECRET)
        for rejected in (weak_token, hmac_token):
            with pytest.raises(InvalidToken):
                await verifier.verify(rejected)


@pytest.fixture
async def attacker(keys: Keys) -> AsyncIterator[JwksServer]:
    """A second loopback listener an attacker would like the verifier to fetch keys from."""
    async with serving({"keys": [keys.attacker.jwk]}) as running:
        yield running


def _pointing_headers(keys: Keys, attacker: JwksServer) -> Iterator[dict[str, Any]]:
    yield {"jku": attacker.url}
    yield {"x5u": attacker.url}
    yield {"jwk": keys.attacker.jwk}
    yield {"jku": attacker.url, "x5u": attacker.url, "jwk": keys.attacker.jwk}


async def test_jku_x5u_and_jwk_headers_are_never_followed(
    keys: Keys, verifier: JwksVerifier, attacker: JwksServer
) -> None:
    for header in _pointing_headers(keys, attacker):
        for kid in ("evil", keys.ed.kid):
            forged = keys.attacker.token(header={**header, "kid": kid})
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)
        # A genuine token carrying such headers is still judged only by the published key.
        await verifier.verify(keys.ed.token(header=header))
    assert attacker.requests == []


def _public_key_secrets(keys: Keys) -> list[bytes]:
    ed_public = OKPKey.import_key(keys.ed.jwk).public_key
    rsa_public = RSAKey.import_key(keys.rsa.jwk).public_key
    return [
        ed_public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        ed_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        rsa_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(keys.ed.jwk).encode(),
        b64(
            ed_public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).encode(),
    ]


async def test_hs256_signed_with_a_jwks_public_key_is_rejected(
    keys: Keys, verifier: JwksVerifier
) -> None:
    composite = CompositeVerifier(SecretVerifier(SECRET, issuer=BASE), verifier)
    for public in _public_key_secrets(keys):
        for kid in (keys.ed.kid, keys.rsa.kid):
            forged = compact(
                {"alg": "HS256", "kid": kid, "typ": "JWT"}, better_auth_claims(), public
            )
            with pytest.raises(InvalidToken):
                await composite.verify(forged)
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)


@attrs.frozen
class FromNow:
    """A moment `seconds` from when the test runs, as a JWT's NumericDate."""

    seconds: int


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example.com"},
        {"aud": "https://evil.example.com"},
        {"aud": ["https://evil.example.com"]},
        {"aud": None},
        {"iss": None},
        {"iss": None, "aud": None},
        {"exp": FromNow(-60), "iat": FromNow(-960)},
        {"exp": None},
        {"sub": None},
        {"sub": ""},
        {"sub": 123},
        {"nbf": FromNow(600)},
    ],
    ids=repr,
)
async def test_wrong_claims_are_rejected(
    keys: Keys, verifier: JwksVerifier, claims: dict[str, Any]
) -> None:
    # Moments are taken when the test runs: a long suite must not age them past their point.
    now = int(time.time())
    resolved: dict[str, Any] = {
        k: now + v.seconds if isinstance(v, FromNow) else v for k, v in claims.items()
    }
    with pytest.raises(InvalidToken):
        await verifier.verify(keys.ed.token(**resolved))


@pytest.mark.parametrize(
    "claims",
    [{"aud": ["https://other.example.com", BASE]}, {"iss": BASE + "/", "aud": BASE + "/"}],
    ids=repr,
)
async def test_audience_arrays_and_trailing_slashes_are_accepted(
    keys: Keys, verifier: JwksVerifier, claims: dict[str, Any]
) -> None:
    assert await verifier.verify(keys.ed.token(**claims)) == EXPECTED


async def test_without_an_issuer_iss_and_aud_are_not_required(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, issuer=None) as verifier:
        assert await verifier.verify(keys.ed.token(iss=None, aud=None)) == EXPECTED


async def test_without_an_issuer_a_token_for_an_audience_is_refused(
    keys: Keys, server: JwksServer
) -> None:
    async with jwks_verifier(server.url, issuer=None) as verifier:
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.ed.token(iss=None))


@pytest.mark.parametrize(
    ("name", "alg"),
    [
        ("rsa", "ES256"),
        ("p256", "ES512"),
        ("p521", "ES256"),
        ("p256", "EdDSA"),
        ("ed", "ES256"),
        ("ed", "RS256"),
        ("p256", "PS256"),
        ("rsa", "ES384"),
        ("rsa", "RS512"),
        ("p256", "ES384"),
    ],
)
async def test_a_key_of_the_wrong_type_for_alg_is_rejected(
    keys: Keys, verifier: JwksVerifier, name: str, alg: str
) -> None:
    # The signature is made with the real private key, so only the type check can refuse it.
    key: SigningKey = getattr(keys, name)
    forged = compact({"alg": alg, "kid": key.kid, "typ": "JWT"}, better_auth_claims(), key.private)
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)


async def test_a_jwk_alg_must_equal_the_header_alg(keys: Keys, server: JwksServer) -> None:
    server.document = {"keys": [{**keys.rsa.jwk, "alg": "RS256"}]}
    async with jwks_verifier(server.url) as verifier:
        await verifier.verify(keys.rsa.token())
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.rsa.under("PS256").token())


async def test_a_key_meant_for_encryption_is_not_used(keys: Keys, server: JwksServer) -> None:
    server.document = {"keys": [{**keys.p256.jwk, "use": "enc"}]}
    async with jwks_verifier(server.url) as verifier:
        with pytest.raises(InvalidToken):
            await verifier.verify(keys.p256.token())


async def test_a_token_without_kid_is_rejected(keys: Keys, verifier: JwksVerifier) -> None:
    header = {"alg": "EdDSA", "typ": "JWT"}
    with pytest.raises(InvalidToken):
        await verifier.verify(compact(header, better_auth_claims(), keys.ed.private))


async def test_a_tampered_token_is_rejected(keys: Keys, verifier: JwksVerifier) -> None:
    header, _, sig = keys.ed.token().split(".")
    payload = b64(json.dumps(better_auth_claims(sub="someone-else")).encode())
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{header}.{payload}.{sig}")


async def test_a_given_http_client_is_used_and_left_open(keys: Keys, server: JwksServer) -> None:
    async with httpx.AsyncClient() as client:
        async with jwks_verifier(server.url, http_client=client) as verifier:
            await verifier.verify(keys.ed.token())
        assert not client.is_closed
    assert len(server.requests) == 1


def _unsigned(alg: str) -> str:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(better_auth_claims()).encode())}."


async def test_the_composite_routes_by_alg(keys: Keys, verifier: JwksVerifier) -> None:
    secret = SecretVerifier(SECRET, issuer=BASE)
    hs256 = compact({"alg": "HS256", "typ": "JWT"}, better_auth_claims(), SECRET)
    both = CompositeVerifier(secret, verifier)
    assert await both.verify(hs256) == EXPECTED
    assert await both.verify(keys.ed.token()) == EXPECTED
    assert await both.verify(keys.rsa.under("PS256").token()) == EXPECTED
    for refused in (_unsigned("none"), _unsigned("HS256"), _unsigned("ES384"), "", "a.b.c"):
        with pytest.raises(InvalidToken):
            await both.verify(refused)


async def test_the_composite_without_jwks_rejects_asymmetric_tokens(keys: Keys) -> None:
    secret_only = CompositeVerifier(SecretVerifier(SECRET, issuer=BASE), None)
    with pytest.raises(InvalidToken):
        await secret_only.verify(keys.ed.token())
    hs256 = compact({"alg": "HS256"}, better_auth_claims(), SECRET)
    assert await secret_only.verify(hs256) == EXPECTED


async def test_the_composite_without_a_secret_rejects_hs256(verifier: JwksVerifier) -> None:
    jwks_only = CompositeVerifier(None, verifier)
    with pytest.raises(InvalidToken):
        await jwks_only.verify(compact({"alg": "HS256"}, better_auth_claims(), SECRET))


async def test_the_secret_verifier_refuses_asymmetric_tokens(keys: Keys) -> None:
    with pytest.raises(InvalidToken):
        await SecretVerifier(SECRET, issuer=BASE).verify(keys.ed.token())
