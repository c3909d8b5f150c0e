"""What every page endpoint shares: the visitor, CSRF checks, rendering and redirects."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from adapters.web.csrf import CsrfGuard, is_same_origin
from adapters.web.dependencies import WebDependencies
from adapters.web.forms import Form, read_form
from adapters.web.rendering import Views
from adapters.web.routing import Halt, PageError, forbidden
from adapters.web.session import Cookies, Visitor, here, sign_in_url
from adapters.web.undo import UndoSealer
from domain.users import Caller, Principal

_SESSION_BINDING = "session:"
_PRE_SESSION_BINDING = "pre-session:"


@attrs.frozen(kw_only=True)
class Kit:
    """The web UI's request toolkit, built once from its dependencies."""

    deps: WebDependencies
    views: Views
    cookies: Cookies
    csrf: CsrfGuard
    undo: UndoSealer

    @classmethod
    def build(cls, deps: WebDependencies) -> Kit:
        """A toolkit for `deps`."""
        return cls(
            deps=deps,
            views=Views(),
            cookies=Cookies(secure=deps.cookie_secure),
            csrf=CsrfGuard(deps.csrf_secret),
            undo=UndoSealer(deps.sealer),
        )

    async def visitor(self, request: Request) -> Visitor:
        """Who sent `request`; remembered for the page (and error page) it gets."""
        use_cases = self.deps.use_cases
        visitor = await self.cookies.visitor(request, use_cases.sessions)
        if visitor.principal is not None:
            # The header names the account, which the service's own tokens no longer carry.
            account = await use_cases.accounts.current_user(visitor.principal)
            visitor = attrs.evolve(visitor, account=account)
        request.state.web_visitor = visitor
        return visitor

    async def principal(self, request: Request, next_path: str) -> Principal:
        """The signed-in visitor; otherwise stop with a redirect to sign in, then to `next_path`."""
        visitor = await self.visitor(request)
        if visitor.principal is None:
            raise Halt(self.to_sign_in(visitor, next_path))
        return visitor.principal

    async def session_form(
        self, request: Request, next_path: str = "/tasks"
    ) -> tuple[Form, Principal]:
        """The form of a signed-in visitor's state-changing request, CSRF-checked; a visitor
        signed out meanwhile goes to sign in, then to `next_path`."""
        form = await self._form(request)
        visitor = await self.visitor(request)
        binding = visitor.session_cookie and _SESSION_BINDING + visitor.session_cookie
        if not self.csrf.is_valid(binding, form.get("csrf_token")):
            raise forbidden()
        if visitor.principal is None:
            raise Halt(self.to_sign_in(visitor, next_path))
        return form, visitor.principal

    async def caller(self, request: Request) -> Caller:
        """The signed-in visitor asking about their own things; sent to sign in (and back to
        this page) otherwise."""
        return Caller.of(await self.principal(request, here(request)))

    async def caller_form(self, request: Request) -> tuple[Form, Caller]:
        """The CSRF-checked form of a signed-in visitor, and the visitor."""
        form, principal = await self.session_form(request)
        return form, Caller.of(principal)

    async def pre_session_form(self, request: Request) -> Form:
        """The form of a sign-in or sign-up, CSRF-checked against the pre-session cookie."""
        form = await self._form(request)
        cookie = request.cookies.get(self.cookies.csrf)
        binding = cookie and _PRE_SESSION_BINDING + cookie
        if not self.csrf.is_valid(binding, form.get("csrf_token")):
            raise forbidden()
        return form

    def pre_session_token(self, cookie: str) -> str:
        """The CSRF token of forms shown before sign-in, bound to the pre-session cookie."""
        return self.csrf.token(_PRE_SESSION_BINDING + cookie)

    def page(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render `template` for the visitor of `request`."""
        visitor: Visitor = getattr(request.state, "web_visitor", Visitor())
        token = ""
        if visitor.principal is not None and visitor.session_cookie is not None:
            token = self.csrf.token(_SESSION_BINDING + visitor.session_cookie)
        base = {
            "user": visitor.account,
            "csrf_token": token,
            "now": self.deps.clock.now(),
            "openid_name": self.deps.openid.name if self.deps.openid else None,
        }
        return self.views.render(template, base | context, status=status, headers=headers)

    def error_page(self, request: Request, error: PageError) -> Response:
        """The page for a refusal."""
        return self.page(
            request, "error.html", status=error.status, headers=error.headers, error=error
        )

    def to_sign_in(self, visitor: Visitor, next_path: str | None) -> Response:
        """A redirect to the sign-in page that also drops a session cookie gone stale."""
        response = redirect(sign_in_url(next_path))
        if visitor.has_stale_cookie:
            self.cookies.clear(response, self.cookies.session)
        return response

    async def _form(self, request: Request) -> Form:
        if not is_same_origin(request):
            raise forbidden()
        return await read_form(request)


def redirect(url: str) -> RedirectResponse:
    """See Other: after a POST the browser GETs `url`, so a reload never repeats the write."""
    return RedirectResponse(url, status_code=303)
