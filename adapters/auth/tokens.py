"""Shared JWT mechanics: a guarded header read, verification with one pinned key, claim rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import orjson
from cachetools import TLRUCache
from joserfc import jwt
from joserfc.errors import InvalidKeyCurveError
from joserfc.jwa import JWS_ALGORITHMS, JWSAlgModel
from joserfc.jwk import Key, OctKey
from joserfc.jws import JWSRegistry
from joserfc.util import urlsafe_b64decode

from domain.accounts import EMAIL_MAX
from domain.errors import InvalidToken
from domain.tasks import has_control
from domain.types import UserId
from domain.users import USER_ID_MAX, Principal
from taskservice.ports import MAX_TOKEN_LENGTH, MIN_SECRET_BYTES

DEFAULT_LEEWAY: Final = 30
REMEMBERED_BYTES: Final = 4 * 1024 * 1024
"""How many bytes of verified tokens each verifier remembers, least recently used forgotten
first: thousands of tokens, however large each is (MAX_TOKEN_LENGTH)."""
HMAC_ALGORITHM: Final = "HS256"
JWKS_ALGORITHMS: Final = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})

# We implement no JWS extension, so every critical one must be refused (RFC 7515 §4.1.11);
# `b64` (RFC 7797) would change what the signature covers.
_REFUSED_HEADERS: Final = frozenset({"crit", "b64"})

EpochClock = Callable[[], float]
Remembered = tuple[Key, float, Principal, int]
"""A verified token's key, the moment its `exp` refuses it, its principal and its length."""
PrincipalOf = Callable[[dict[str, Any]], Principal]
"""Finds the principal in a token's checked claims; InvalidToken when they name none."""


class _EdDSAWithEd25519(JWSAlgModel):
    """The algorithm name "EdDSA" pinned to Ed25519 keys, the curve Better Auth signs with."""

    # RFC 9864 deprecates the polymorphic name "EdDSA" (joserfc warns on every use of it), but
    # Better Auth still writes it; delegating to the fully specified Ed25519 keeps one meaning.
    name = "EdDSA"
    description = "EdDSA using Ed25519"
    key_type = "OKP"
    _ed25519: Final = next(alg for alg in JWS_ALGORITHMS if alg.name == "Ed25519")

    def check_key(self, key: Any) -> None:
        """Refuse anything but an Ed25519 OKP key meant for signatures."""
        super().check_key(key)
        if key.curve_name != "Ed25519":
            raise InvalidKeyCurveError("EdDSA tokens must be signed with Ed25519")

    def sign(self, msg: bytes, key: Any) -> bytes:
        """Sign with an Ed25519 private key."""
        return self._ed25519.sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        """Whether `sig` is an Ed25519 signature of `msg` by `key`."""
        return self._ed25519.verify(msg, sig, key)


class _OurRegistry(JWSRegistry):
    """A JWS registry that knows only the algorithms this service accepts."""

    algorithms: dict[str, JWSAlgModel] = {  # noqa: RUF012 - overrides joserfc's class table
        **{
            alg.name: alg
            for alg in JWS_ALGORITHMS
            if alg.name in JWKS_ALGORITHMS | {HMAC_ALGORITHM} and alg.name != "EdDSA"
        },
        "EdDSA": _EdDSAWithEd25519(),
    }


# One registry per algorithm pins the algorithm a key may be used with; unknown non-critical
# header parameters are ignored as RFC 7515 asks.
_REGISTRIES: Final = {
    name: _OurRegistry(algorithms=[name], strict_check_header=False)
    for name in JWKS_ALGORITHMS | {HMAC_ALGORITHM}
}


def registry_for(alg: str) -> JWSRegistry:
    """The JWS registry that allows exactly `alg`."""
    return _REGISTRIES[alg]


def secret_key(secret: bytes) -> OctKey:
    """The HMAC key for the shared secret; ValueError when it is too short to be safe."""
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"The shared secret must be at least {MIN_SECRET_BYTES} bytes.")
    return OctKey.import_key(secret)


def read_header(token: str) -> dict[str, Any]:
    """The token's JOSE header after the size and shape checks; InvalidToken if unreadable."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise InvalidToken()
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken()
    try:
        header = orjson.loads(urlsafe_b64decode(parts[0].encode("ascii")))
    except (ValueError, RecursionError) as exc:
        raise InvalidToken() from exc
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise InvalidToken()
    if header.keys() & _REFUSED_HEADERS:
        raise InvalidToken()
    return header


def normalise_issuer(issuer: str | None) -> str | None:
    """`issuer` without a trailing slash, which comparisons ignore."""
    return issuer.rstrip("/") if issuer else None


@attrs.frozen(kw_only=True)
class ClaimRules:
    """What a verified token's claims must say: timing, and the issuer and audience of SPEC §2."""

    issuer: str | None = attrs.field(converter=normalise_issuer)
    issuer_required: bool
    leeway: int = DEFAULT_LEEWAY
    clock: EpochClock = time.time
    # A browser sends the same token with every request; checking its signature and claims
    # again each time was a quarter of the CPU of a 304. What passed once is remembered,
    # by the whole token (signature included), until the moment its `exp` refuses it.
    _verified: TLRUCache[str, Remembered] = attrs.field(init=False, eq=False, repr=False)

    @_verified.default
    def _memory(self) -> TLRUCache[str, Remembered]:
        return TLRUCache(
            maxsize=REMEMBERED_BYTES,
            ttu=lambda _token, remembered, _now: remembered[1],
            timer=self.clock,
            getsizeof=lambda remembered: remembered[3],
        )

    def claims(self, token: str, key: Key, alg: str) -> dict[str, Any]:
        """The checked claims of `token` signed by `key` with `alg`; InvalidToken for anything wrong."""
        try:
            claims = jwt.decode(token, key, registry=registry_for(alg)).claims
            self._registry().validate(claims)
        # A verifier fails closed: whatever a hostile token makes the parser raise is
        # just an invalid token, never a server error.
        except Exception as exc:
            raise InvalidToken() from exc
        self._check_issuer(claims)
        return claims

    def verify(self, token: str, key: Key, alg: str, principal_of: PrincipalOf) -> Principal:
        """The principal `principal_of` finds in the checked claims of `token` signed by `key`
        with `alg`; InvalidToken for anything wrong.

        A token verified before with this very key object is answered from memory until it
        expires; a key set fetched anew holds new objects, so a removed key's tokens are checked
        (and refused) again.
        """
        known = self.remembered(token, key)
        if known is not None:
            return known
        claims = self.claims(token, key, alg)
        principal = principal_of(claims)
        # The registry demanded `exp` and checked it is a number; it admits the token until
        # `exp` plus the leeway, and so does memory.
        self._verified[token] = (key, float(claims["exp"]) + self.leeway, principal, len(token))
        return principal

    def remembered(self, token: str, *keys: Key) -> Principal | None:
        """The principal of `token` if it was verified with one of these very key objects and
        has not expired since; None otherwise (then `verify` decides)."""
        remembered = self._verified.get(token)
        if remembered is not None and any(remembered[0] is key for key in keys):
            return remembered[2]
        return None

    def _registry(self) -> jwt.JWTClaimsRegistry:
        return jwt.JWTClaimsRegistry(
            now=int(self.clock()), leeway=self.leeway, exp={"essential": True}
        )

    def _check_issuer(self, claims: dict[str, Any]) -> None:
        iss, aud = claims.get("iss"), claims.get("aud")
        if self.issuer is None:
            # RFC 7519 §4.1.3: a token for an audience we cannot claim to be is refused; with
            # nothing configured there is no issuer to compare an `iss` with.
            if aud is not None:
                raise InvalidToken()
            return
        if self.issuer_required and (iss is None or aud is None):
            raise InvalidToken()
        if iss is not None and (not isinstance(iss, str) or normalise_issuer(iss) != self.issuer):
            raise InvalidToken()
        if aud is not None and self.issuer not in _audiences(aud):
            raise InvalidToken()


def _audiences(aud: object) -> set[str | None]:
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return {normalise_issuer(value) for value in values if isinstance(value, str)}


def subject_principal(claims: dict[str, Any]) -> Principal:
    """The principal of claims that name their user in `sub`; InvalidToken when they do not."""
    return Principal(
        user_id=user_id_of(claims.get("sub")),
        email=display_email(claims.get("email")),
        issued_at=issued_at(claims),
    )


def issued_at(claims: dict[str, Any]) -> datetime | None:
    """The token's `iat` as a moment, when it has a usable one (the registry checked its type)."""
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        return None
    try:
        return datetime.fromtimestamp(iat, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def user_id_of(value: object) -> UserId:
    """`value` as a user id; InvalidToken unless a string of 1–255 characters, no control ones."""
    # A control character cannot be stored or put in a path, so such a subject names nobody.
    if not isinstance(value, str) or not 1 <= len(value) <= USER_ID_MAX or has_control(value):
        raise InvalidToken()
    return UserId(value)


def display_email(value: object) -> str | None:
    """An e-mail claim kept for display when it is storable; None otherwise."""
    if isinstance(value, str) and len(value) <= EMAIL_MAX and not has_control(value):
        return value
    return None
