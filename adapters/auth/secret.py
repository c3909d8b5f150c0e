"""HS256 tokens: the service's own under a key derived from the shared secret, frontends' under it."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from joserfc import jwt
from joserfc.jwk import OctKey

from adapters.auth.keys import Purpose, derived_key
from adapters.auth.tokens import (
    DEFAULT_LEEWAY,
    HMAC_ALGORITHM,
    ClaimRules,
    EpochClock,
    display_email,
    issued_at,
    read_header,
    registry_for,
    secret_key,
    subject_principal,
    user_id_of,
)
from domain.errors import InvalidToken
from domain.sessions import SESSION_ID_MAX, IssuedSession
from domain.users import Principal, User
from taskservice.ports import IssuedToken

DEFAULT_LIFETIME = timedelta(days=7)
SESSION_KEY_ID: Final = "taskservice-session-1"
"""The `kid` of the service's own tokens: it sends them to the derived key, and only there."""
SESSION_ID_BYTES: Final = 16
"""Random bytes of a token's `jti`: 128 bits."""


def session_key(secret: bytes) -> OctKey:
    """The HMAC key of the service's own tokens, derived from the shared secret."""
    secret_key(secret)  # the same length rule as the secret itself
    return OctKey.import_key(derived_key(secret, Purpose.SESSION_TOKENS))


class SecretVerifier:
    """Verifies HS256 tokens: the service's own with the derived key, others with the secret."""

    def __init__(
        self,
        secret: bytes,
        *,
        issuer: str | None = None,
        leeway: int = DEFAULT_LEEWAY,
        clock: EpochClock = time.time,
    ) -> None:
        self._shared_key = secret_key(secret)
        self._session_key = session_key(secret)
        self._leeway = timedelta(seconds=leeway)
        # Many frontends mint only {sub, email}, so iss/aud are checked only when present.
        self._rules = ClaimRules(issuer=issuer, issuer_required=False, leeway=leeway, clock=clock)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid HS256 token; InvalidToken for anything else."""
        header = read_header(token)
        if header["alg"] != HMAC_ALGORITHM:
            raise InvalidToken()
        return self.verify_hmac(token, header)

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token this verifier accepted and that has not expired since,
        without reading it again; None for any other (then `verify_hmac` decides)."""
        return self._rules.remembered(token, self._session_key, self._shared_key)

    def verify_hmac(self, token: str, header: dict[str, Any]) -> Principal:
        """The principal of a token whose `header` was read and said HS256.

        For a caller that read the header already; the signature check admits HS256 only. The
        `kid` only routes, to one key: a token that names ours but was signed with the shared
        secret fails, and so does one of ours without it. One signature check a token.
        """
        if header.get("kid") == SESSION_KEY_ID:
            return self._rules.verify(token, self._session_key, HMAC_ALGORITHM, self._own)
        return self._rules.verify(token, self._shared_key, HMAC_ALGORITHM, _frontend_principal)

    def _own(self, claims: dict[str, Any]) -> Principal:
        jti, iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not 1 <= len(jti) <= SESSION_ID_MAX or iat is None:
            raise InvalidToken()
        try:
            # The registry has checked both are finite numbers.
            session = IssuedSession(
                id=jti,
                issued_at=datetime.fromtimestamp(iat, UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC) + self._leeway,
            )
        except (OverflowError, ValueError, OSError) as exc:
            raise InvalidToken() from exc
        # No e-mail: the service's tokens do not carry one.
        return Principal(user_id=user_id_of(claims.get("sub")), session=session)


def _frontend_principal(claims: dict[str, Any]) -> Principal:
    # A frontend's own token names its user in `sub`; Better Auth's session token does not.
    if "sub" in claims:
        return subject_principal(claims)
    return better_auth_session_principal(claims)


def better_auth_session_principal(claims: dict[str, Any]) -> Principal:
    """The user of Better Auth's cookie-cache session token (SPEC §2); InvalidToken otherwise.

    Its claims are `{session: {userId, …}, user: {id, email, …}, …}`: the subject is `user.id`,
    which `session.userId` must repeat, and `user.email` is kept for display. Nothing else.
    """
    user, session = claims.get("user"), claims.get("session")
    if not isinstance(user, dict) or not isinstance(session, dict):
        raise InvalidToken()
    user_id = user_id_of(user.get("id"))
    if session.get("userId") != user_id:
        raise InvalidToken()
    return Principal(
        user_id=user_id, email=display_email(user.get("email")), issued_at=issued_at(claims)
    )


class SecretIssuer:
    """Signs the service's own HS256 tokens under the derived key, never the shared secret.

    So no other holder of the secret (Better Auth verifying its e-mail or session tokens)
    accepts them; and they carry no e-mail, which sign-up does not prove.
    """

    def __init__(
        self, secret: bytes, *, issuer: str | None, lifetime: timedelta = DEFAULT_LIFETIME
    ) -> None:
        if lifetime <= timedelta(0):
            raise ValueError("The token lifetime must be positive.")
        self._key = session_key(secret)
        self._issuer = issuer
        self._lifetime = int(lifetime.total_seconds())

    def issue(self, user: User, now: datetime) -> IssuedToken:
        """A token whose subject is `user`, valid from `now` for the configured lifetime."""
        issued_at = now.timestamp()
        expires = int(issued_at) + self._lifetime
        claims: dict[str, Any] = {
            "sub": user.id,
            # To the microsecond (RFC 7519 allows a fraction), so that ending every session
            # issued before a moment spares one issued just after it in the same second.
            "iat": issued_at,
            "exp": expires,
            "jti": secrets.token_urlsafe(SESSION_ID_BYTES),
        }
        if self._issuer:
            claims["iss"] = claims["aud"] = self._issuer
        header = {"alg": HMAC_ALGORITHM, "typ": "JWT", "kid": SESSION_KEY_ID}
        token = jwt.encode(header, claims, self._key, registry=registry_for(HMAC_ALGORITHM))
        return IssuedToken(token=token, expires_at=datetime.fromtimestamp(expires, UTC))
