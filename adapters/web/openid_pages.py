"""Sign-in with an OpenID Provider in the browser: the button's POST, and the provider's callback."""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.kit import Kit, redirect
from adapters.web.openid import CALLBACK_PATH, FLOW_LIFETIME, OpenIdClient, SignInRefused
from adapters.web.routing import PageError, page_route
from adapters.web.session import DEFAULT_NEXT, safe_next
from domain.errors import SignUpClosed
from taskservice.services import AccountUseCases, SessionGuard

SETTINGS_DELETE = "/settings/delete"


@attrs.frozen(kw_only=True)
class OpenIdPages:
    """`/sign-in/oidc` starts a sign-in at the provider; its callback signs the person in.

    Starting is a link (GET), not a form: the page's `form-action 'self'` would stop a form's
    redirect to the provider, and starting a flow changes nothing here (the callback is bound
    to the flow's own cookie).
    """

    kit: Kit
    client: OpenIdClient
    accounts: AccountUseCases
    sessions: SessionGuard

    def routes(self) -> list[Route]:
        """The routes of the OpenID Connect sign-in."""
        on_error = self.kit.error_page
        return [
            page_route("/sign-in/oidc", on_error, GET=self.start),
            page_route(CALLBACK_PATH, on_error, GET=self.callback),
            page_route("/settings/reauthenticate", on_error, GET=self.reauthenticate),
        ]

    async def start(self, request: Request) -> Response:
        """GET /sign-in/oidc: off to the provider, the flow kept in a sealed cookie."""
        target = safe_next(request.query_params.get("next")) or DEFAULT_NEXT
        return await self._to_provider(request, target)

    async def reauthenticate(self, request: Request) -> Response:
        """GET /settings/reauthenticate: sign in at the provider again, then confirm deletion."""
        await self.kit.principal(request, SETTINGS_DELETE)
        # The provider must ask again rather than wave a remembered session through.
        return await self._to_provider(request, SETTINGS_DELETE, prompt="login", max_age="0")

    async def callback(self, request: Request) -> Response:
        """GET /sign-in/oidc/callback: the provider's answer, verified, signs the person in."""
        cookies = self.kit.cookies
        flow = request.cookies.get(cookies.openid_flow)
        try:
            identity = await self.client.finish(request, flow)
            session = await self.accounts.sign_in_with(identity)
        except SignInRefused as exc:
            return self._refusal(request, exc.reason, 400)
        except SignUpClosed:
            reason = "No account here belongs to this identity, and sign-up is closed."
            return self._refusal(request, reason, 403)
        # A browser signing in again leaves no earlier session of its own behind.
        earlier = await cookies.visitor(request, self.sessions)
        if earlier.principal is not None:
            await self.sessions.sign_out(earlier.principal)
        response = redirect(self.client.next_path(flow) or DEFAULT_NEXT)
        lifetime = session.expires_at - self.kit.deps.clock.now()
        cookies.set(response, cookies.session, session.token, int(lifetime.total_seconds()))
        cookies.clear(response, cookies.openid_flow)
        return response

    async def _to_provider(self, request: Request, next_path: str, **extra: str) -> Response:
        redirect_uri = str(request.url.replace(path=CALLBACK_PATH, query=""))
        try:
            url, flow = await self.client.start(request, redirect_uri, next_path, **extra)
        except SignInRefused as exc:
            raise self._refused(exc.reason, 502) from None
        response = redirect(url)
        self.kit.cookies.set(response, self.kit.cookies.openid_flow, flow, FLOW_LIFETIME)
        return response

    def _refused(self, reason: str, status: int) -> PageError:
        return PageError(
            status,
            f"Sign-in with {self.client.config.name} failed",
            f"{reason} Nothing was signed in.",
        )

    def _refusal(self, request: Request, reason: str, status: int) -> Response:
        # The flow is over either way: its cookie goes, so that it cannot be tried again.
        response = self.kit.error_page(request, self._refused(reason, status))
        self.kit.cookies.clear(response, self.kit.cookies.openid_flow)
        return response
