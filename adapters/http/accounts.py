"""The account endpoints of SPEC §4: sign-up, sign-in, me."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.routing import Endpoint, by_method
from adapters.http.style import Style
from domain.accounts import parse_credentials, parse_sign_in
from domain.users import User
from taskservice.ports import TokenVerifier
from taskservice.services import AccountUseCases, Session


def user_json(user: User) -> dict[str, Any]:
    """The public fields of a user."""
    return {"id": user.id, "email": user.email, "name": user.name, "created_at": user.created_at}


def session_json(session: Session) -> dict[str, Any]:
    """A signed-in user with the token and its expiry."""
    return {
        "user": user_json(session.user),
        "token": session.token,
        "expires_at": session.expires_at,
    }


def client_address(request: Request) -> str:
    """The connection's peer; uvicorn has already applied X-Forwarded-For from trusted proxies."""
    return request.client.host if request.client else "unknown"


@attrs.frozen(kw_only=True)
class AccountApi:
    """The account endpoints, bound to the account use cases."""

    accounts: AccountUseCases
    verifier: TokenVerifier
    style: Style
    delete: Endpoint
    """DELETE /api/auth/me, which erases the account (adapters.http.identity)."""

    def routes(self) -> list[Route]:
        """The routes of the account API."""
        return [
            by_method("/api/auth/sign-up", POST=self.sign_up),
            by_method("/api/auth/sign-in", POST=self.sign_in),
            by_method("/api/auth/me", GET=self.me, DELETE=self.delete),
        ]

    async def sign_up(self, request: Request) -> Response:
        """POST /api/auth/sign-up: a new local account, signed in."""
        body = await parsing.json_object(request) or {}
        credentials = parse_credentials(body, with_name=True)
        session = await self.accounts.sign_up(credentials, client_address(request))
        request.state.user_id = session.user.id
        return self.style.resource(session_json(session), "Account created.", status=201)

    async def sign_in(self, request: Request) -> Response:
        """POST /api/auth/sign-in: a token for the right e-mail and password."""
        email, password = parse_sign_in(await parsing.json_object(request) or {})
        session = await self.accounts.sign_in(email, password, client_address(request))
        request.state.user_id = session.user.id
        return self.style.resource(session_json(session), "Signed in.")

    async def me(self, request: Request) -> Response:
        """GET /api/auth/me: the caller's user."""
        principal = await parsing.authenticated(request, self.verifier)
        user = await self.accounts.current_user(principal)
        return self.style.resource(user_json(user), "You are signed in.")
