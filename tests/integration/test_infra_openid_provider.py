"""The OpenID Provider harness, driven with httpx alone: discovery, JWKS, code + PKCE, ID token."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import InvalidClaimError, InvalidKeyIdError
from joserfc.jwk import KeySet

from tests.infra.fixtures import StartOpenIDProvider
from tests.infra.openid_provider import (
    ACCOUNTS,
    OpenIDProvider,
    exchange,
    id_token_for,
    pkce_pair,
    sign_in,
)

# Never served: the test reads the provider's redirect to it instead of following it.
REDIRECT_URI = "http://127.0.0.1:9/callback"


@pytest.fixture
async def provider(start_openid_provider: StartOpenIDProvider) -> OpenIDProvider:
    """A provider with the test client registered for `REDIRECT_URI`."""
    return await start_openid_provider(redirect_uris=[REDIRECT_URI])


async def public_keys(provider: OpenIDProvider) -> KeySet:
    """The provider's signing keys, from its discovery document's `jwks_uri`."""
    async with httpx.AsyncClient() as client:
        discovery = (await client.get(provider.discovery_url)).json()
        return KeySet.import_key_set((await client.get(discovery["jwks_uri"])).json())


def verified_claims(id_token: str, keys: KeySet, *, issuer: str, audience: str, nonce: str) -> Any:
    """The ID token's claims, once its signature, `iss`, `aud`, `nonce` and `exp` are checked."""
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)
    return token.claims


async def test_discovery_and_jwks_describe_a_code_flow_provider_with_pkce(
    provider: OpenIDProvider,
) -> None:
    async with httpx.AsyncClient() as client:
        discovery = (await client.get(provider.discovery_url)).json()
        jwks = (await client.get(discovery["jwks_uri"])).json()

    assert discovery["issuer"] == provider.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert discovery[endpoint].startswith(f"{provider.issuer}/")
    assert discovery["response_types_supported"] == ["code"]
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "email", "profile"} <= set(discovery["scopes_supported"])
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    [key] = jwks["keys"]
    assert key["kid"] == provider.signing_key.kid
    assert "d" not in key  # public only


async def test_a_person_signs_in_through_the_forms_and_the_id_token_verifies(
    provider: OpenIDProvider,
) -> None:
    alice = ACCOUNTS[0]
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = provider.authorization_url(state=state, nonce=nonce, code_challenge=challenge)
    async with httpx.AsyncClient() as browser:
        redirect = await sign_in(browser, url, alice)
        tokens = await exchange(browser, provider, redirect.params["code"], verifier)
        replayed = await exchange(browser, provider, redirect.params["code"], verifier)

    assert str(redirect.copy_with(query=None)) == REDIRECT_URI
    assert redirect.params["state"] == state
    assert redirect.params["iss"] == provider.issuer
    assert tokens.status_code == 200, tokens.text
    claims = verified_claims(
        tokens.json()["id_token"],
        await public_keys(provider),
        issuer=provider.issuer,
        audience=provider.client_id,
        nonce=nonce,
    )
    assert (claims["sub"], claims["email"], claims["name"]) == (
        alice.subject,
        alice.email,
        alice.name,
    )
    assert claims["email_verified"] is True
    assert time.time() < claims["exp"] <= time.time() + 3600
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"


async def test_pkce_is_required_and_its_verifier_checked(provider: OpenIDProvider) -> None:
    verifier, challenge = pkce_pair()
    url = provider.authorization_url(state="s", nonce="n", code_challenge=challenge)
    without_pkce = httpx.URL(url).copy_remove_param("code_challenge")
    without_pkce = without_pkce.copy_remove_param("code_challenge_method")
    async with httpx.AsyncClient() as browser:
        refused = await browser.get(without_pkce)
        redirect = await sign_in(browser, url, ACCOUNTS[1])
        wrong_verifier = await exchange(browser, provider, redirect.params["code"], verifier + "x")

    refusal = httpx.URL(refused.headers["location"])
    assert str(refusal.copy_with(query=None)) == REDIRECT_URI
    assert refusal.params["error"] == "invalid_request"
    assert "code" not in refusal.params
    assert wrong_verifier.status_code == 400
    assert wrong_verifier.json()["error"] == "invalid_grant"


async def test_a_second_provider_is_another_issuer_even_with_the_same_key(
    provider: OpenIDProvider, start_openid_provider: StartOpenIDProvider
) -> None:
    same_client = {
        "redirect_uris": [REDIRECT_URI],
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
    }
    same_key = await start_openid_provider(**same_client, signing_key=provider.signing_key)
    own_key = await start_openid_provider(**same_client)
    first_keys = await public_keys(provider)
    expected = {"issuer": provider.issuer, "audience": provider.client_id, "nonce": "n"}

    assert same_key.issuer != provider.issuer
    assert verified_claims(
        await id_token_for(provider, ACCOUNTS[0], nonce="n"), first_keys, **expected
    )
    with pytest.raises(InvalidClaimError, match="iss"):
        verified_claims(
            await id_token_for(same_key, ACCOUNTS[0], nonce="n"), first_keys, **expected
        )
    with pytest.raises(InvalidKeyIdError):  # signed with a key the first does not publish
        verified_claims(await id_token_for(own_key, ACCOUNTS[0], nonce="n"), first_keys, **expected)
