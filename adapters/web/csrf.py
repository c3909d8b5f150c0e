"""Signed double-submit CSRF tokens and the same-origin check of state-changing requests."""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.requests import Request

_SAFE_FETCH_SITES = frozenset({"same-origin", "none"})


class CsrfGuard:
    """Derives a form token from a value bound to the browser (its session or pre-session cookie)."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"taskservice web csrf", hashlib.sha256).digest()

    def token(self, binding: str) -> str:
        """The token that forms must carry for this binding."""
        mac = hmac.new(self._key, binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def is_valid(self, binding: str | None, presented: str | None) -> bool:
        """Whether `presented` is the token of `binding` (both must be there)."""
        if not binding or not presented:
            return False
        return hmac.compare_digest(self.token(binding).encode(), presented.encode())


def is_same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from our own pages (or says nothing)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _SAFE_FETCH_SITES:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        # A page sent with `Referrer-Policy: no-referrer` (one that shows an invite code) makes
        # the browser post its forms with "Origin: null"; then only the browser's own word that
        # the request is same-origin lets it through.
        return site == "same-origin"
    return origin == f"{request.url.scheme}://{request.url.netloc}"
