"""The identity endpoints of SPEC §10: personal access tokens, revocation, and your data."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.accounts import client_address, session_json, user_json
from adapters.http.envelope import render
from adapters.http.routing import by_method
from adapters.http.style import Style
from domain.accounts import parse_deletion, parse_password_change
from domain.personal_tokens import parse_token_request
from taskservice.ports import TokenVerifier
from taskservice.services import (
    AccountUseCases,
    NewToken,
    PersonalTokenUseCases,
    YourDataUseCases,
    token_metadata,
)


def new_token_json(made: NewToken) -> dict[str, Any]:
    """A token just made: its metadata and, this once, its secret."""
    return {**token_metadata(made.token), "token": made.secret}


def export_filename(today: date) -> str:
    """The name a browser saves the export under."""
    return f"taskservice-export-{today.isoformat()}.json"


@attrs.frozen(kw_only=True)
class IdentityApi:
    """Personal access tokens, sign-out everywhere, a new password, the export and erasure."""

    accounts: AccountUseCases
    personal_tokens: PersonalTokenUseCases
    your_data: YourDataUseCases
    verifier: TokenVerifier
    style: Style

    def routes(self) -> list[Route]:
        """The routes of the identity API (DELETE /api/auth/me is the account API's)."""
        return [
            by_method("/api/auth/tokens", GET=self.list_tokens, POST=self.create_token),
            by_method("/api/auth/tokens/{id}", DELETE=self.revoke_token),
            by_method("/api/auth/sign-out-everywhere", POST=self.sign_out_everywhere),
            by_method("/api/auth/password", POST=self.change_password),
            by_method("/api/auth/export", GET=self.export),
        ]

    async def create_token(self, request: Request) -> Response:
        """POST /api/auth/tokens: a new token, its secret shown this once."""
        principal = await parsing.authenticated(request, self.verifier)
        wanted = parse_token_request(await parsing.json_object(request) or {})
        made = await self.personal_tokens.create(principal, wanted)
        location = f"/api/auth/tokens/{made.token.id}"
        return self.style.resource(
            new_token_json(made),
            "Token created; copy it now, it is not shown again.",
            status=201,
            headers={"Location": location},
        )

    async def list_tokens(self, request: Request) -> Response:
        """GET /api/auth/tokens: the caller's tokens, never their secrets."""
        principal = await parsing.authenticated(request, self.verifier)
        tokens = await self.personal_tokens.list(principal)
        return self.style.resource([token_metadata(t) for t in tokens], f"{len(tokens)} token(s).")

    async def revoke_token(self, request: Request) -> Response:
        """DELETE /api/auth/tokens/{id}: the token is refused from now on, everywhere."""
        principal = await parsing.authenticated(request, self.verifier)
        token = await self.personal_tokens.revoke(principal, request.path_params["id"])
        return self.style.resource(token_metadata(token), "Token revoked.")

    async def sign_out_everywhere(self, request: Request) -> Response:
        """POST /api/auth/sign-out-everywhere: every token issued until now ends, this one too."""
        principal = await parsing.authenticated(request, self.verifier)
        await parsing.json_object(request, optional=True)
        ended = await self.accounts.sign_out_everywhere(principal)
        return self.style.resource(
            {"ended_before": ended}, "Signed out everywhere, this session included."
        )

    async def change_password(self, request: Request) -> Response:
        """POST /api/auth/password: a new password; every earlier session ends, a new one starts."""
        principal = await parsing.authenticated(request, self.verifier)
        change = parse_password_change(await parsing.json_object(request) or {})
        session = await self.accounts.change_password(principal, change, client_address(request))
        return self.style.resource(
            session_json(session), "Password changed; every other session has ended."
        )

    async def export(self, request: Request) -> Response:
        """GET /api/auth/export: everything of the caller's, one JSON document, streamed."""
        principal = await parsing.authenticated(request, self.verifier)
        export = await self.your_data.export(principal)
        disposition = f'attachment; filename="{export_filename(export.exported_at.date())}"'
        return StreamingResponse(
            self.style.stream(export.document(render), "Your data."),
            media_type="application/json",
            headers={"Content-Disposition": disposition},
        )

    async def delete_me(self, request: Request) -> Response:
        """DELETE /api/auth/me: the account and everything it owns are erased."""
        principal = await parsing.authenticated(request, self.verifier)
        password = parse_deletion(await parsing.json_object(request, optional=True) or {})
        user = await self.accounts.delete_account(principal, password, client_address(request))
        return self.style.resource(user_json(user), "Account deleted, and everything it owned.")
