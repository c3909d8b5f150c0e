"""Mints bearer tokens for tests, the way a Next.js frontend does with the shared secret."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import OctKey

SECRET = b"test-secret-that-is-long-enough-for-hs256-0123456789"


def hs256(sub: str, *, secret: bytes = SECRET, **claims: Any) -> str:
    """An HS256 token for `sub`, valid for ten minutes unless `claims` override it."""
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + 600, **claims}
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, payload, OctKey.import_key(secret))
