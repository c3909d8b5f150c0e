"""A real OpenID Provider for tests: the certified `oidc-provider` npm package, run with node.

`openid_provider(redirect_uris=[…])` starts tests/infra/oidc/provider.mjs on a free loopback port
(issuer `http://127.0.0.1:<port>`) with one confidential client, the fixed `ACCOUNTS`, a fresh
RS256 signing key (or the one given) and oidc-provider's development login and consent pages.
The authorization code flow with PKCE (S256) is the only one: a request without
`code_challenge` is refused. Scopes `openid email profile`; the ID token carries `email`,
`email_verified` and `name` of the granted scopes, as most providers' do. Start a second
provider for "another issuer": it has another port, so another issuer, and another key unless
`signing_key=first.signing_key` is passed (then only `iss` tells the two apart).

Version: oidc-provider 8.8.1, the last release of the line that supports Node 18 (Debian's) and
20 (this machine's). 9.x asks for Node 22 LTS: on Node 20.20 its 9.13.3 ran the same flow but
warned "Unsupported runtime"; 9.x is the maintained line, so move to it with Node 22. The npm
packages come from tests/infra/oidc/package-lock.json (tests.infra.npm).

Signing in in Chromium (playwright), after the product redirected the page to the provider
(tried with Debian's Chromium from a sync playwright test taking the async fixture):
  1. the login page: `page.fill("input[name=login]", account.subject)` (the subject, not the
     e-mail), `page.fill("input[name=password]", "any")` (the development login checks no
     password), `page.get_by_role("button", name="Sign-in").click()`. An unknown subject gets
     no code: the provider answers with its error page (HTTP 500) instead of the consent page.
  2. the consent page: `page.get_by_role("button", name="Continue").click()`.
  3. the provider redirects to the client's `redirect_uri` with `code`, `state` and `iss`.
  A second sign-in in the same browser context skips both pages (the provider's session and
  the grant are remembered): use a new context, or add `prompt=login` to the request.
With httpx, `sign_in(...)` does the same and returns the redirect to `redirect_uri`.

Tampered inputs:
  - a replayed code: exchange a code twice; the provider answers the second time 400
    `invalid_grant` (and, as its source says, revokes what the first exchange issued).
  - a tampered `state`: change `state` in the redirect before it reaches the client.
  - a wrong `nonce`: the provider puts whatever `nonce` the authorization request carried into
    the ID token. Take the client's authorization URL, replace only its `nonce` (its `state` and
    `code_challenge` stay the client's), sign in with it and hand the redirect to the client:
    the code and the exchange are valid, the ID token's `nonce` is not the client's.
  - an ID token from another issuer: start a second provider with the same client and
    `signing_key=first.signing_key`; `id_token_for(second, account, nonce=…)` is a real token
    that verifies against the first provider's keys but names another `iss`.
  - a wrong PKCE verifier: the token endpoint answers 400 `invalid_grant`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import attrs
import httpx
from joserfc.jwk import RSAKey

from tests.infra.npm import node_modules
from tests.infra.processes import LOOPBACK, Started, free_port, http_answers, program, started

PACKAGE: Final = Path(__file__).parent / "oidc"
SCOPE: Final = "openid email profile"
_FORM_ACTION: Final = re.compile(r'<form[^>]*action="([^"]+)"')


@attrs.frozen
class Account:
    """A person the provider knows: `subject` is what its login form takes."""

    subject: str
    email: str
    name: str


ACCOUNTS: Final = (
    Account(subject="alice-0001", email="alice@example.test", name="Alice Example"),
    Account(subject="bob-0002", email="bob@example.test", name="Bob Example"),
)


@attrs.frozen
class OpenIDProvider:
    """A running provider: its issuer, the client registered with it, its accounts and key."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    accounts: tuple[Account, ...]
    signing_key: RSAKey
    process: Started

    @property
    def discovery_url(self) -> str:
        """The OpenID Connect discovery document's URL."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        """An authorization request of the registered client, as a client would redirect to."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uris[0],
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.issuer}/auth?{urlencode(query)}"


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE `code_verifier` and its S256 `code_challenge`."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def sign_in(client: httpx.AsyncClient, authorization_url: str, account: Account) -> httpx.URL:
    """Follow `authorization_url` through the login and consent pages as `account`.

    Returns the provider's final redirect (to the client's `redirect_uri`) without following it.
    `client` keeps the provider's cookies, as a browser does; it must not follow redirects.
    """
    provider = httpx.URL(authorization_url).copy_with(path="/", query=None)
    form = {"prompt": "login", "login": account.subject, "password": "any"}
    response = await client.get(authorization_url)
    for _ in range(10):
        if response.is_redirect:
            target = response.url.join(response.headers["location"])
            if not str(target).startswith(str(provider)):
                return target
            response = await client.get(target)
        elif response.status_code == 200 and (action := _FORM_ACTION.search(response.text)):
            login = 'name="login"' in response.text
            data = form if login else {"prompt": "consent"}
            response = await client.post(response.url.join(action[1]), data=data)
        else:
            raise RuntimeError(f"sign-in stopped at {response.url}: {response.status_code}")
    raise RuntimeError("sign-in did not reach the redirect_uri")


async def exchange(
    client: httpx.AsyncClient, provider: OpenIDProvider, code: str, code_verifier: str
) -> httpx.Response:
    """The token endpoint's answer to the registered client's exchange of `code`."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": provider.redirect_uris[0],
        "code_verifier": code_verifier,
    }
    auth = (provider.client_id, provider.client_secret)
    return await client.post(f"{provider.issuer}/token", data=form, auth=auth)


async def id_token_for(provider: OpenIDProvider, account: Account, *, nonce: str) -> str:
    """A real ID token for `account`, obtained through the whole flow as the registered client."""
    verifier, challenge = pkce_pair()
    async with httpx.AsyncClient() as client:
        url = provider.authorization_url(state="state", nonce=nonce, code_challenge=challenge)
        redirect = await sign_in(client, url, account)
        response = await exchange(client, provider, redirect.params["code"], verifier)
    response.raise_for_status()
    token: str = response.json()["id_token"]
    return token


@asynccontextmanager
async def openid_provider(
    *,
    redirect_uris: Sequence[str],
    client_id: str = "taskservice-test",
    client_secret: str | None = None,
    accounts: Sequence[Account] = ACCOUNTS,
    signing_key: RSAKey | None = None,
    token_endpoint_auth_method: str = "client_secret_basic",  # noqa: S107 (a method name)
    id_token_ttl: int = 3600,
) -> AsyncIterator[OpenIDProvider]:
    """A running provider with one confidential client for `redirect_uris`; stopped on exit."""
    node = program("node", package="nodejs")
    modules = await asyncio.to_thread(node_modules, PACKAGE)
    port = free_port()
    issuer = f"http://{LOOPBACK}:{port}"
    secret = client_secret or secrets.token_urlsafe(32)
    key = signing_key or RSAKey.generate_key(2048, {"alg": "RS256", "use": "sig"}, auto_kid=True)
    config: dict[str, Any] = {
        "issuer": issuer,
        "port": port,
        "client": {
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": list(redirect_uris),
            "token_endpoint_auth_method": token_endpoint_auth_method,
        },
        "accounts": [
            {"sub": account.subject, "email": account.email, "name": account.name}
            for account in accounts
        ],
        "signing_key": key.as_dict(private=True),
        "cookie_keys": [secrets.token_urlsafe(32)],
        "id_token_ttl": id_token_ttl,
    }
    # Private: it holds the client secret and the signing key.
    root = Path(tempfile.mkdtemp(prefix="openid-provider-"))
    try:
        (root / "config.json").write_text(json.dumps(config))
        # ESM imports resolve node_modules beside the script, not through NODE_PATH.
        shutil.copyfile(PACKAGE / "provider.mjs", root / "provider.mjs")
        (root / "node_modules").symlink_to(modules)
        async with started(
            [node, root / "provider.mjs", root / "config.json"],
            ready=http_answers(f"{issuer}/.well-known/openid-configuration"),
            output=root / "output.log",
            cwd=root,
        ) as process:
            yield OpenIDProvider(
                issuer=issuer,
                client_id=client_id,
                client_secret=secret,
                redirect_uris=tuple(redirect_uris),
                accounts=tuple(accounts),
                signing_key=key,
                process=process,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
