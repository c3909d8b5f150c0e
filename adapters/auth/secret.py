"""HS256 tokens with the shared secret (BETTER_AUTH_SECRET): verifying and issuing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt

from adapters.auth.tokens import (
    DEFAULT_LEEWAY,
    HMAC_ALGORITHM,
    ClaimRules,
    EpochClock,
    read_header,
    registry_for,
    secret_key,
)
from domain.errors import InvalidToken
from domain.users import Principal, User
from taskservice.ports import IssuedToken

DEFAULT_LIFETIME = timedelta(days=7)


class SecretVerifier:
    """Verifies HS256 tokens signed with the shared secret; nothing else is accepted."""

    def __init__(
        self,
        secret: bytes,
        *,
        issuer: str | None = None,
        leeway: int = DEFAULT_LEEWAY,
        clock: EpochClock = time.time,
    ) -> None:
        self._key = secret_key(secret)
        # Many frontends mint only {sub, email}, so iss/aud are checked only when present.
        self._rules = ClaimRules(issuer=issuer, issuer_required=False, leeway=leeway, clock=clock)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid HS256 token; InvalidToken for anything else."""
        if read_header(token)["alg"] != HMAC_ALGORITHM:
            raise InvalidToken()
        return self.verify_hmac(token)

    def verify_hmac(self, token: str) -> Principal:
        """The principal of a token whose header was read and said HS256.

        For a caller that read the header already; the signature check admits HS256 only.
        """
        return self._rules.verify(token, self._key, HMAC_ALGORITHM)


class SecretIssuer:
    """Signs the service's own HS256 tokens for its local accounts."""

    def __init__(
        self, secret: bytes, *, issuer: str | None, lifetime: timedelta = DEFAULT_LIFETIME
    ) -> None:
        if lifetime <= timedelta(0):
            raise ValueError("The token lifetime must be positive.")
        self._key = secret_key(secret)
        self._issuer = issuer
        self._lifetime = int(lifetime.total_seconds())

    def issue(self, user: User, now: datetime) -> IssuedToken:
        """A token whose subject is `user`, valid from `now` for the configured lifetime."""
        issued_at = int(now.timestamp())
        expires = issued_at + self._lifetime
        claims: dict[str, Any] = {"sub": user.id, "iat": issued_at, "exp": expires}
        if user.email is not None:
            claims["email"] = user.email
        if self._issuer:
            claims["iss"] = claims["aud"] = self._issuer
        token = jwt.encode(
            {"alg": HMAC_ALGORITHM}, claims, self._key, registry=registry_for(HMAC_ALGORITHM)
        )
        return IssuedToken(token=token, expires_at=datetime.fromtimestamp(expires, UTC))
