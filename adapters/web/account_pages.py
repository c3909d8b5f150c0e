"""The account pages of SPEC §5: sign up, sign in, sign out, and the front door."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.forms import Form, field_errors
from adapters.web.kit import Kit, redirect
from adapters.web.routing import page_route
from adapters.web.session import DEFAULT_NEXT, safe_next
from domain.accounts import parse_credentials, parse_sign_in
from domain.errors import (
    Conflict,
    InvalidCredentials,
    RateLimited,
    SignUpClosed,
    ValidationFailed,
)
from taskservice.services import AccountUseCases, Session, SessionGuard

_NOTICES = {
    "signed_out": "You have signed out.",
    "signed_out_everywhere": "You have signed out everywhere: every session and token has ended.",
    "account_deleted": "Your account and everything it held have been deleted.",
}


@attrs.frozen(kw_only=True)
class AccountPages:
    """Sign-up, sign-in and sign-out, bound to the web toolkit and the account use cases."""

    kit: Kit
    accounts: AccountUseCases
    sessions: SessionGuard

    def routes(self) -> list[Route]:
        """The routes of the account pages."""
        on_error = self.kit.error_page
        return [
            page_route("/", on_error, GET=self.home),
            page_route("/sign-in", on_error, GET=self.sign_in_page, POST=self.sign_in),
            page_route("/sign-up", on_error, GET=self.sign_up_page, POST=self.sign_up),
            page_route("/sign-out", on_error, POST=self.sign_out),
        ]

    async def home(self, request: Request) -> Response:
        """GET /: the task list when signed in, else the sign-in page."""
        visitor = await self.kit.visitor(request)
        if visitor.principal is None:
            return self.kit.to_sign_in(visitor, None)
        return redirect(DEFAULT_NEXT)

    async def sign_in_page(self, request: Request) -> Response:
        """GET /sign-in: the sign-in form (or on to `next` when already signed in)."""
        target = safe_next(request.query_params.get("next"))
        if (await self.kit.visitor(request)).principal is not None:
            return redirect(target or DEFAULT_NEXT)
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        return self._form_page(request, "sign_in.html", next=target, notice=notice)

    async def sign_in(self, request: Request) -> Response:
        """POST /sign-in: set the session cookie and go on, or show what went wrong."""
        form = await self.kit.pre_session_form(request)
        target = safe_next(form.get("next"))
        shown = {"email": form.get("email", "")}
        try:
            email, password = parse_sign_in(
                {"email": form.get("email", ""), "password": form.get("password", "")}
            )
            session = await self.accounts.sign_in(email, password, _address(request))
        except ValidationFailed as exc:
            return self._form_page(
                request,
                "sign_in.html",
                422,
                next=target,
                form=shown,
                errors=field_errors(exc.details),
            )
        except InvalidCredentials as exc:
            return self._form_page(
                request, "sign_in.html", 401, next=target, form=shown, problem=exc.message
            )
        except RateLimited as exc:
            return self._rate_limited(request, "sign_in.html", exc, next=target, form=shown)
        return self._signed_in(session, target or DEFAULT_NEXT)

    async def sign_up_page(self, request: Request) -> Response:
        """GET /sign-up: the sign-up form (or a note that sign-up is closed)."""
        target = safe_next(request.query_params.get("next"))
        if (await self.kit.visitor(request)).principal is not None:
            return redirect(target or DEFAULT_NEXT)
        return self._form_page(request, "sign_up.html", next=target)

    async def sign_up(self, request: Request) -> Response:
        """POST /sign-up: create the account, sign it in, or show what went wrong."""
        form = await self.kit.pre_session_form(request)
        target = safe_next(form.get("next"))
        shown = {"email": form.get("email", ""), "name": form.get("name", "")}
        try:
            session = await self._create_account(request, form)
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return self._form_page(
                request, "sign_up.html", 422, next=target, form=shown, errors=errors
            )
        except Conflict as exc:
            errors = {"email": exc.message}
            return self._form_page(
                request, "sign_up.html", 409, next=target, form=shown, errors=errors
            )
        except SignUpClosed:
            return self._form_page(request, "sign_up.html", 403, next=target)
        except RateLimited as exc:
            return self._rate_limited(request, "sign_up.html", exc, next=target, form=shown)
        return self._signed_in(session, target or f"{DEFAULT_NEXT}?notice=welcome")

    async def sign_out(self, request: Request) -> Response:
        """POST /sign-out: end the session on the server, and forget the cookie."""
        cookies = self.kit.cookies
        if cookies.session not in request.cookies:
            return redirect("/sign-in")
        _, principal = await self.kit.session_form(request)
        await self.sessions.sign_out(principal)
        response = redirect("/sign-in?notice=signed_out")
        cookies.clear(response, cookies.session)
        return response

    async def _create_account(self, request: Request, form: Form) -> Session:
        if not self.accounts.allow_signup:
            raise SignUpClosed()
        fields = {"email": form.get("email", ""), "password": form.get("password", "")}
        if form.get("name", "").strip():
            fields["name"] = form["name"]
        credentials = parse_credentials(fields, with_name=True)
        return await self.accounts.sign_up(credentials, _address(request))

    def _signed_in(self, session: Session, target: str) -> Response:
        response = redirect(target)
        cookies = self.kit.cookies
        lifetime = session.expires_at - self.kit.deps.clock.now()
        cookies.set(response, cookies.session, session.token, int(lifetime.total_seconds()))
        return response

    def _rate_limited(
        self, request: Request, template: str, exc: RateLimited, **context: Any
    ) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        problem = f"Too many attempts. Please wait {exc.retry_after} seconds and try again."
        return self._form_page(request, template, 429, headers=headers, problem=problem, **context)

    def _form_page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        """An account form whose CSRF token is bound to the browser's pre-session cookie."""
        kit = self.kit
        cookie, is_new = kit.cookies.pre_session(request)
        values = {"form": {}, "errors": {}, "problem": None, "notice": None} | context
        response = kit.page(
            request,
            template,
            status=status,
            headers=headers,
            csrf_token=kit.pre_session_token(cookie),
            allow_signup=self.accounts.allow_signup,
            **values,
        )
        if is_new:
            kit.cookies.set(response, kit.cookies.csrf, cookie)
        visitor = getattr(request.state, "web_visitor", None)
        if visitor is not None and visitor.has_stale_cookie:
            kit.cookies.clear(response, kit.cookies.session)
        return response


def _address(request: Request) -> str:
    """The connection's peer; uvicorn has already applied X-Forwarded-For from trusted proxies."""
    return request.client.host if request.client else "unknown"
