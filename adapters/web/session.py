"""The cookie session: which cookies, with which flags, and who the visitor is."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote, urlsplit

import attrs
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import InvalidToken
from domain.users import Principal, User
from taskservice.ports import TokenVerifier

_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f\\]")
DEFAULT_NEXT = "/tasks"


@attrs.frozen(kw_only=True)
class Visitor:
    """The browser behind a request: its session cookie and, when that is valid, its principal."""

    principal: Principal | None = None
    session_cookie: str | None = None
    account: User | None = None
    """The signed-in user's record, for the page header."""

    @property
    def has_stale_cookie(self) -> bool:
        """A session cookie was sent but its token is invalid or expired."""
        return self.session_cookie is not None and self.principal is None


@attrs.frozen(kw_only=True)
class Cookies:
    """The names and flags of our cookies; `secure` picks `__Host-` names and the Secure flag."""

    secure: bool

    @property
    def session(self) -> str:
        """The name of the cookie holding the bearer token."""
        return "__Host-session" if self.secure else "session"

    @property
    def openid_flow(self) -> str:
        """The name of the cookie holding a sign-in at the OpenID Provider while it lasts."""
        return "__Host-oidc" if self.secure else "oidc"

    @property
    def csrf(self) -> str:
        """The name of the pre-session cookie that the sign-in forms' CSRF token is bound to."""
        return "__Host-csrf" if self.secure else "csrf"

    async def visitor(self, request: Request, verifier: TokenVerifier) -> Visitor:
        """Who sent `request`, by the token in its session cookie."""
        token = request.cookies.get(self.session) or None
        if token is None:
            return Visitor()
        try:
            principal = await verifier.verify(token)
        except InvalidToken:
            return Visitor(session_cookie=token)
        if not principal.signed_in:
            # A personal access token is for scripts: planted in a cookie it signs nobody in.
            return Visitor(session_cookie=token)
        request.state.user_id = principal.user_id
        return Visitor(principal=principal, session_cookie=token)

    def set(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        """Set a host-only, HttpOnly, SameSite=Lax cookie on `response`."""
        parts = [f"{name}={value}", "Path=/"]
        if max_age is not None:
            parts.insert(1, f"Max-Age={max(0, max_age)}")
        parts.append("HttpOnly")
        if self.secure:
            parts.append("Secure")
        parts.append("SameSite=Lax")
        response.headers.append("set-cookie", "; ".join(parts))

    def clear(self, response: Response, name: str) -> None:
        """Tell the browser to forget cookie `name` (with the flags a `__Host-` cookie needs)."""
        self.set(response, name, "", max_age=0)

    def pre_session(self, request: Request) -> tuple[str, bool]:
        """The browser's pre-session CSRF value, and whether it is new and must be set."""
        existing = request.cookies.get(self.csrf)
        if existing and len(existing) >= 32:
            return existing, False
        return secrets.token_urlsafe(32), True


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site (never an absolute or scheme-relative URL)."""
    if not value or _UNSAFE_IN_NEXT.search(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    return value


def sign_in_url(next_path: str | None) -> str:
    """The sign-in page, remembering where to go afterwards."""
    target = safe_next(next_path)
    if target is None:
        return "/sign-in"
    return "/sign-in?next=" + quote(target, safe="/")


def here(request: Request) -> str:
    """The path and query of `request`, to come back to after signing in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
