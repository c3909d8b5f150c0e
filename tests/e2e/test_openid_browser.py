"""Sign-in with a real OpenID Provider (oidc-provider on node) in Chromium, and each way an
answer that does not prove who signed in is refused with a clear page, nothing signed in."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import httpx2
import pytest
from joserfc import jwt
from playwright.sync_api import BrowserContext, Page, expect

from taskservice.bootstrap import build_app
from tests.e2e.browser import chromium, loopback_socket, serve
from tests.e2e.conftest import settings_for
from tests.infra.fixtures import StartOpenIDProvider
from tests.infra.openid_provider import ACCOUNTS, Account, OpenIDProvider, id_token_for
from tests.infra.openid_provider import sign_in as provider_sign_in

NAME = "Test ID"
CALLBACK = "/sign-in/oidc/callback"
ALICE, BOB = ACCOUNTS
RESULTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture
def bound() -> Iterator[socket.socket]:
    """The service's socket, bound first: the provider must know its redirect URI."""
    sock = loopback_socket()
    yield sock
    sock.close()


def url_of(sock: socket.socket) -> str:
    """The service's base URL on `sock`."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def provider(
    bound: socket.socket, start_openid_provider: StartOpenIDProvider
) -> OpenIDProvider:
    """A provider with the service registered as its client."""
    return await start_openid_provider(redirect_uris=[url_of(bound) + CALLBACK])


@pytest.fixture
async def impostor(
    provider: OpenIDProvider, start_openid_provider: StartOpenIDProvider
) -> OpenIDProvider:
    """Another issuer with the same client and the very same signing key."""
    return await start_openid_provider(
        redirect_uris=list(provider.redirect_uris),
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        signing_key=provider.signing_key,
    )


def run(
    bound: socket.socket,
    provider: OpenIDProvider,
    postgres_url: str,
    tmp_path: Path,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> Iterator[str]:
    """The whole service, trusting `provider`, on the bound socket."""
    settings = settings_for(
        postgres_url,
        tmp_path,
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_name=NAME,
    )
    with serve(build_app(settings, openid_transport=transport), bound) as url:
        yield url


@pytest.fixture
def site(
    bound: socket.socket, provider: OpenIDProvider, migrated_postgres_url: str, tmp_path: Path
) -> Iterator[str]:
    """The service trusting `provider`."""
    yield from run(bound, provider, migrated_postgres_url, tmp_path)


class SwapIdToken(httpx2.AsyncBaseTransport):
    """Between the service and its provider: replaces the token endpoint's ID token with one the
    impostor issued for the same person and `nonce` (a mix-up, or a compromised path)."""

    def __init__(self, impostor: OpenIDProvider) -> None:
        self._network = httpx2.AsyncHTTPTransport()
        self._impostor = impostor

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Forward the request; swap the ID token of a token response."""
        response = await self._network.handle_async_request(request)
        if request.url.path != "/token":
            return response
        body = json.loads(await response.aread())
        genuine = jwt.decode(body["id_token"], self._impostor.signing_key)
        account = next(a for a in ACCOUNTS if a.subject == genuine.claims["sub"])
        body["id_token"] = await id_token_for(
            self._impostor, account, nonce=genuine.claims["nonce"]
        )
        return httpx2.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        """Close the connections to the provider."""
        await self._network.aclose()


@pytest.fixture
def mixed_up_site(
    bound: socket.socket,
    provider: OpenIDProvider,
    impostor: OpenIDProvider,
    migrated_postgres_url: str,
    tmp_path: Path,
) -> Iterator[str]:
    """The service trusting `provider`, whose token answers carry the impostor's ID tokens."""
    yield from run(bound, provider, migrated_postgres_url, tmp_path, SwapIdToken(impostor))


@pytest.fixture
def context(request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh profile of a Chromium started for the test.

    Started after the test's other fixtures: playwright's synchronous API runs an event loop of
    its own, inside which the asynchronous fixtures (the providers) could not be set up.
    """
    for name in ("site", "mixed_up_site"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    with chromium() as browser:
        ctx = browser.new_context()
        ctx.set_default_timeout(15_000)
        yield ctx
        ctx.close()


def start_sign_in(page: Page, site: str) -> None:
    """From the sign-in page, off to the provider."""
    page.goto(site + "/sign-in")
    page.get_by_role("link", name=f"Sign in with {NAME}").click()


def at_provider(page: Page, account: Account, *, consent: bool = True) -> None:
    """The provider's login page, as `account`, and its consent page unless consented before."""
    page.fill("input[name=login]", account.subject)
    page.fill("input[name=password]", "any")
    page.get_by_role("button", name="Sign-in").click()
    if consent:
        page.get_by_role("button", name="Continue").click()


def sign_in(page: Page, site: str, account: Account) -> None:
    """Sign in with the provider, all the way to the task list."""
    start_sign_in(page, site)
    at_provider(page, account)
    expect(page).to_have_url(re.compile(r"/tasks$"))


def refused(page: Page, site: str, reason: str) -> None:
    """The page says the sign-in failed and why, and nobody is signed in afterwards."""
    expect(page.locator("h1")).to_have_text(f"Sign-in with {NAME} failed")
    expect(page.locator(".error-card")).to_contain_text(reason)
    expect(page.locator(".error-card")).to_contain_text("Nothing was signed in.")
    assert not [c for c in page.context.cookies() if c["name"] == "__Host-session"]
    page.goto(site + "/tasks")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/tasks$"))


def with_param(url: str, name: str, value: str) -> str:
    """`url` with query parameter `name` set to `value`."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def authorization_url(page: Page, site: str) -> str:
    """Start a sign-in in the browser (which keeps its flow cookie); the URL it was sent to.

    The provider's pages are then gone through by `answer`, so that the test can change what
    the provider is asked, or what its answer says, before the browser brings it back.
    """
    response = page.goto(site + "/sign-in/oidc")
    assert response is not None
    hop = response.request
    while hop.redirected_from is not None and "/auth?" not in hop.url:
        hop = hop.redirected_from
    assert "/auth?" in hop.url, hop.url
    return hop.url


def answer(url: str, account: Account) -> str:
    """The provider's redirect back to the service, for a sign-in as `account` at `url`.

    In a thread of its own: playwright's synchronous API holds this thread's event loop.
    """

    async def go() -> str:
        async with httpx.AsyncClient() as client:
            return str(await provider_sign_in(client, url, account))

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_sign_in_and_out_with_the_provider(context: BrowserContext, site: str) -> None:
    page = context.new_page()
    sign_in(page, site, ALICE)
    expect(page.locator(".account-name")).to_have_text(ALICE.email)
    session = next(c for c in context.cookies() if c["name"] == "__Host-session")
    assert session["httpOnly"]
    assert session["secure"]
    assert not [c for c in context.cookies() if c["name"] == "__Host-oidc"], "flow cookie left"
    page.get_by_label("New task").fill("Signed in by a provider")
    page.get_by_role("button", name="Add task").click()
    expect(page.locator(".task-title")).to_have_text(["Signed in by a provider"])

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#live")).to_have_text("You have signed out.")
    # The server ended that session: the old cookie is refused.
    context.add_cookies(
        [
            {
                "name": session["name"],
                "value": session["value"],
                "domain": session["domain"],
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    page.goto(site + "/tasks")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/tasks$"))

    # The same person again is the same user (issuer and subject), with their task.
    start_sign_in(page, site)
    expect(page).to_have_url(re.compile(r"/tasks$"))  # the provider remembers them
    expect(page.locator(".task-title")).to_have_text(["Signed in by a provider"])


def test_a_tampered_state_is_refused(context: BrowserContext, site: str) -> None:
    page = context.new_page()
    callback = answer(authorization_url(page, site), ALICE)
    page.goto(with_param(callback, "state", "forged-state"))
    refused(page, site, "not started in this browser")


def test_a_replayed_code_is_refused(context: BrowserContext, site: str) -> None:
    page = context.new_page()
    first = answer(authorization_url(page, site), ALICE)
    page.goto(first)
    expect(page).to_have_url(re.compile(r"/tasks$"))
    page.get_by_role("button", name="Sign out").click()

    # The very same answer again: its flow is over, so its state is nobody's.
    page.goto(first)
    refused(page, site, "not started in this browser")

    # A new flow of this browser, handed the code the first one used up.
    second = answer(authorization_url(page, site), ALICE)
    used_code = dict(parse_qsl(urlsplit(first).query))["code"]
    page.goto(with_param(second, "code", used_code))
    refused(page, site, "refused the sign-in code")


def test_an_id_token_with_a_wrong_nonce_is_refused(context: BrowserContext, site: str) -> None:
    page = context.new_page()
    asked = with_param(authorization_url(page, site), "nonce", "not-the-clients-nonce")
    page.goto(answer(asked, ALICE))
    refused(page, site, "did not verify (InvalidClaimError)")


def test_an_id_token_from_another_issuer_is_refused(
    context: BrowserContext, mixed_up_site: str
) -> None:
    page = context.new_page()
    start_sign_in(page, mixed_up_site)
    at_provider(page, BOB)
    refused(page, mixed_up_site, "did not verify (InvalidClaimError)")


def test_the_settings_page(context: BrowserContext, site: str) -> None:
    page = context.new_page()
    sign_in(page, site, BOB)
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.locator("#password")).to_contain_text("Your account has no password")
    page.get_by_label("Name").fill("backup script")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").input_value()
    assert secret.startswith("tsk_")
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "settings.png"), full_page=True)
    page.goto(site + "/settings")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator(".token-name")).to_have_text(["backup script"])
    assert secret not in page.content()


def test_deleting_an_account_of_the_provider_asks_for_a_new_sign_in(
    context: BrowserContext, site: str
) -> None:
    page = context.new_page()
    sign_in(page, site, ALICE)
    page.get_by_label("New task").fill("to be erased")
    page.get_by_role("button", name="Add task").click()
    # Confirming sends the person to the provider again, which asks for the login although it
    # remembers them (prompt=login), and back to the deletion, a fresh sign-in.
    page.goto(site + "/settings/reauthenticate")
    at_provider(page, ALICE, consent=False)
    expect(page).to_have_url(re.compile(r"/settings/delete$"))
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#live")).to_have_text(
        "Your account and everything it held have been deleted."
    )
    # The identity went with the account: the same person signs up anew, with nothing.
    start_sign_in(page, site)
    expect(page).to_have_url(re.compile(r"/tasks(\?.*)?$"))
    expect(page.locator(".task-title")).to_have_count(0)
