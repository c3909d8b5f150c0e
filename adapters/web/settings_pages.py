"""The settings page (SPEC §10): personal access tokens, sign-out everywhere, a new password, the
export of your data and the account's deletion. Every form carries its CSRF token; destructive
ones ask for confirmation on a page of their own, so that all of it works without JavaScript."""

from __future__ import annotations

from typing import Any, Final

import attrs
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adapters.web.forms import Form, field_errors
from adapters.web.kit import Kit, redirect
from adapters.web.routing import page_route
from domain.accounts import parse_password_change
from domain.errors import (
    NotFound,
    RateLimited,
    SignInAgain,
    ValidationFailed,
    WrongPassword,
)
from domain.personal_tokens import parse_token_request
from domain.users import Principal
from taskservice.services import (
    RECENT_SIGN_IN,
    AccountUseCases,
    NewToken,
    PersonalTokenUseCases,
    SessionGuard,
    YourDataUseCases,
)

LIFETIMES: Final = {"7": "7 days", "30": "30 days", "90": "90 days", "365": "1 year"}
"""The expiries the form offers, by days."""
SCOPE_CHOICES: Final = {"tasks:read": "Read tasks", "tasks:write": "Read and write tasks"}
_NOTICES: Final = {
    "revoked": "The token is revoked: it stops working at once.",
    "password_changed": "Your password is changed. Every other session has been signed out.",
}
_CONFIRMED = "yes"


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


@attrs.frozen(kw_only=True)
class SettingsPages:
    """The settings page and the forms it posts, bound to the identity use cases."""

    kit: Kit
    accounts: AccountUseCases
    personal_tokens: PersonalTokenUseCases
    your_data: YourDataUseCases
    sessions: SessionGuard

    def routes(self) -> list[Route]:
        """The routes of the settings pages."""
        on_error = self.kit.error_page
        return [
            page_route("/settings", on_error, GET=self.show),
            page_route("/settings/tokens", on_error, POST=self.create_token),
            page_route("/settings/tokens/{id}/revoke", on_error, POST=self.revoke_token),
            page_route("/settings/sign-out-everywhere", on_error, POST=self.sign_out_everywhere),
            page_route("/settings/password", on_error, POST=self.change_password),
            page_route("/settings/export", on_error, POST=self.export),
            page_route("/settings/delete", on_error, GET=self.delete_page, POST=self.delete),
        ]

    async def show(self, request: Request) -> Response:
        """GET /settings: everything about the account."""
        principal = await self.kit.principal(request, "/settings")
        notice = _NOTICES.get(request.query_params.get("notice", ""))
        return await self._page(request, principal, notice=notice)

    async def create_token(self, request: Request) -> Response:
        """POST /settings/tokens: a new token, whose secret this answer shows, once."""
        form, principal = await self._form(request)
        body: dict[str, object] = {
            "name": form.get("name", ""),
            "scopes": [scope for scope in SCOPE_CHOICES if form.get(scope) == "on"],
        }
        days = form.get("lifetime", "30")
        body["expires_in"] = int(days) * 86400 if days in LIFETIMES else -1
        try:
            made = await self.personal_tokens.create(principal, parse_token_request(body))
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return await self._page(request, principal, 422, token_form=form, errors=errors)
        return await self._page(request, principal, 201, new_token=made)

    async def revoke_token(self, request: Request) -> Response:
        """POST /settings/tokens/{id}/revoke: asks first, then revokes."""
        form, principal = await self._form(request)
        token_id = request.path_params["id"]
        tokens = await self.personal_tokens.list(principal)
        token = next((t for t in tokens if t.id == token_id), None)
        if token is None:
            raise NotFound("No such token.")
        if form.get("confirm") != _CONFIRMED:
            return self._confirm(
                request,
                title=f"Revoke the token “{token.name}”?",
                text="Scripts using it will get 401 from their next request on.",
                action=f"/settings/tokens/{token.id}/revoke",
                button="Revoke token",
            )
        await self.personal_tokens.revoke(principal, token_id)
        return redirect("/settings?notice=revoked")

    async def sign_out_everywhere(self, request: Request) -> Response:
        """POST /settings/sign-out-everywhere: asks first, then ends every session and token."""
        form, principal = await self._form(request)
        if form.get("confirm") != _CONFIRMED:
            return self._confirm(
                request,
                title="Sign out everywhere?",
                text=(
                    "Every browser and app signed in to your account, this one included, is "
                    "signed out within a second, and every personal access token stops working."
                ),
                action="/settings/sign-out-everywhere",
                button="Sign out everywhere",
            )
        await self.accounts.sign_out_everywhere(principal)
        response = redirect("/sign-in?notice=signed_out_everywhere")
        self.kit.cookies.clear(response, self.kit.cookies.session)
        return response

    async def change_password(self, request: Request) -> Response:
        """POST /settings/password: a new password; this browser stays signed in, no other does."""
        form, principal = await self._form(request)
        fields = {"current": form.get("current", ""), "new": form.get("new", "")}
        try:
            change = parse_password_change(fields)
            session = await self.accounts.change_password(principal, change, _address(request))
        except ValidationFailed as exc:
            errors = field_errors(exc.details)
            return await self._page(request, principal, 422, password_errors=errors)
        except WrongPassword as exc:
            errors = {"current": exc.message}
            return await self._page(request, principal, 403, password_errors=errors)
        except RateLimited as exc:
            problem = f"Too many attempts. Please wait {exc.retry_after} seconds and try again."
            headers = {"Retry-After": str(exc.retry_after)}
            return await self._page(request, principal, 429, headers=headers, problem=problem)
        response = redirect("/settings?notice=password_changed")
        cookies = self.kit.cookies
        lifetime = session.expires_at - self.kit.deps.clock.now()
        cookies.set(response, cookies.session, session.token, int(lifetime.total_seconds()))
        return response

    async def export(self, request: Request) -> Response:
        """POST /settings/export: your data as one JSON file, downloaded as it is written."""
        _, principal = await self._form(request)
        export = await self.your_data.export(principal)
        name = f"taskservice-export-{export.exported_at.date().isoformat()}.json"
        return StreamingResponse(
            export.document(_dumps),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    async def delete_page(self, request: Request) -> Response:
        """GET /settings/delete: what deletion erases, and how to confirm it."""
        principal = await self.kit.principal(request, "/settings/delete")
        return await self._delete_page(request, principal)

    async def delete(self, request: Request) -> Response:
        """POST /settings/delete: erase the account, once confirmed."""
        form, principal = await self._form(request)
        methods = await self.accounts.sign_in_methods(principal)
        password = form.get("password", "") if methods.has_password else None
        if form.get("confirm") != _CONFIRMED:
            return await self._delete_page(
                request, principal, 422, problem="Tick the box to confirm."
            )
        try:
            if methods.has_password and not password:
                raise WrongPassword("Enter your password to confirm.")
            await self.accounts.delete_account(principal, password, _address(request))
        except WrongPassword as exc:
            return await self._delete_page(request, principal, 403, problem=exc.message)
        except SignInAgain as exc:
            return await self._delete_page(request, principal, 403, problem=exc.message)
        except RateLimited as exc:
            problem = f"Too many attempts. Please wait {exc.retry_after} seconds and try again."
            return await self._delete_page(request, principal, 429, problem=problem)
        response = redirect("/sign-in?notice=account_deleted")
        self.kit.cookies.clear(response, self.kit.cookies.session)
        return response

    async def _form(self, request: Request) -> tuple[Form, Principal]:
        return await self.kit.session_form(request, "/settings")

    async def _page(
        self,
        request: Request,
        principal: Principal,
        status: int = 200,
        *,
        headers: dict[str, str] | None = None,
        new_token: NewToken | None = None,
        **context: Any,
    ) -> Response:
        tokens = await self.personal_tokens.list(principal)
        methods = await self.accounts.sign_in_methods(principal)
        values: dict[str, Any] = {
            "notice": None,
            "problem": None,
            "errors": {},
            "password_errors": {},
            "token_form": {"lifetime": "30", "tasks:read": "on"},
        } | context
        return self.kit.page(
            request,
            "settings.html",
            status=status,
            headers=headers,
            tokens=tokens,
            methods=methods,
            new_token=new_token,
            lifetimes=LIFETIMES,
            scope_choices=SCOPE_CHOICES,
            now=self.kit.deps.clock.now(),
            **values,
        )

    async def _delete_page(
        self, request: Request, principal: Principal, status: int = 200, problem: str | None = None
    ) -> Response:
        methods = await self.accounts.sign_in_methods(principal)
        fresh = self.accounts.may_delete_without_password(principal)
        return self.kit.page(
            request,
            "delete_account.html",
            status=status,
            methods=methods,
            fresh=fresh,
            problem=problem,
            recent_minutes=int(RECENT_SIGN_IN.total_seconds() // 60),
        )

    def _confirm(
        self, request: Request, *, title: str, text: str, action: str, button: str
    ) -> Response:
        return self.kit.page(
            request, "confirm.html", title=title, text=text, action=action, button=button
        )
