"""HS256 bearer tokens as a Better Auth frontend would mint them for the service."""

from __future__ import annotations

import secrets
import time
from typing import Final

from joserfc import jwt
from joserfc.jwk import OctKey

LIFETIME_S: Final = 24 * 3600


def new_secret() -> str:
    """A fresh BETTER_AUTH_SECRET for one benchmark run."""
    return secrets.token_urlsafe(48)


def mint(secret: str, user: str) -> str:
    """A valid token for `user`: sub, email, iat, exp."""
    now = int(time.time())
    claims = {"sub": user, "email": f"{user}@example.com", "iat": now, "exp": now + LIFETIME_S}
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))


def forged(user: str) -> str:
    """A well-formed token for `user` signed with another secret: the full check must run."""
    return mint(new_secret(), user)
