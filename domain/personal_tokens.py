"""Personal access tokens (SPEC §10): a secret shown once, kept only as its hash, with scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs

from domain.errors import FieldError, ValidationFailed, unknown_fields
from domain.policy import Scope
from domain.tasks import has_control
from domain.types import UserId

TOKEN_PREFIX: Final = "tsk_"  # noqa: S105 - a prefix, not a secret
"""What every personal access token starts with, so that secret scanners can find leaked ones."""
_ALPHABET: Final = string.ascii_letters + string.digits
SECRET_LENGTH: Final = 40
"""Characters after the prefix: 40 of 62 symbols, 238 random bits (SPEC §10 asks 160 or more)."""
TOKEN_LENGTH: Final = len(TOKEN_PREFIX) + SECRET_LENGTH
NAME_MAX: Final = 100
EXPIRES_IN_MIN: Final = 60
EXPIRES_IN_MAX: Final = 366 * 24 * 3600
DEFAULT_LIFETIME: Final = timedelta(days=30)
"""A token left without `expires_in` still ends: a forgotten script's token does not live forever."""


def new_secret() -> str:
    """A fresh token: the prefix and 40 characters from the operating system's random source."""
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


def looks_personal(token: str) -> bool:
    """Whether a bearer token is meant as a personal access token (it has the prefix)."""
    return token.startswith(TOKEN_PREFIX)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, hex. A high-entropy secret needs no slow hash."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_hash(stored: str, presented: str) -> bool:
    """Whether two token hashes are equal, in time that does not depend on where they differ."""
    return hmac.compare_digest(stored.encode(), presented.encode())


@attrs.frozen(kw_only=True)
class PersonalToken:
    """A personal access token as listed: everything but its secret."""

    id: str
    user_id: UserId
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        """Whether the token has not expired at `now`."""
        return now < self.expires_at


@attrs.frozen(kw_only=True)
class TokenRequest:
    """A validated request for a new token: its name, scopes and lifetime."""

    name: str
    scopes: frozenset[Scope]
    lifetime: timedelta


def parse_token_request(data: Mapping[str, object]) -> TokenRequest:
    """The body of `POST /api/auth/tokens`; ValidationFailed lists every broken rule."""
    errors = unknown_fields(data, {"name", "scopes", "expires_in"})
    name = _name(data.get("name"), errors)
    scopes = _scopes(data.get("scopes"), errors)
    lifetime = _lifetime(data.get("expires_in", None), "expires_in" in data, errors)
    if errors:
        raise ValidationFailed(errors)
    assert name is not None
    assert scopes is not None
    return TokenRequest(name=name, scopes=scopes, lifetime=lifetime)


def _name(raw: object, errors: list[FieldError]) -> str | None:
    if not isinstance(raw, str):
        code = "required" if raw is None else "invalid_type"
        errors.append(FieldError(field="name", code=code, message="name is required as a string."))
        return None
    name = raw.strip()
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(
            FieldError(
                field="name",
                code="invalid_length",
                message=f"The name must be 1 to {NAME_MAX} characters.",
            )
        )
        return None
    if has_control(name):
        errors.append(
            FieldError(
                field="name",
                code="control_character",
                message="The name cannot contain control characters.",
            )
        )
        return None
    return name


def _scopes(raw: object, errors: list[FieldError]) -> frozenset[Scope] | None:
    known = ", ".join(scope.value for scope in Scope)
    if not isinstance(raw, list) or not raw:
        errors.append(
            FieldError(
                field="scopes",
                code="required" if raw is None else "invalid_type",
                message=f"scopes must be a non-empty array of: {known}.",
            )
        )
        return None
    values = {scope.value for scope in Scope}
    if not all(isinstance(item, str) and item in values for item in raw):
        errors.append(
            FieldError(
                field="scopes",
                code="invalid_choice",
                message=f"Each scope must be one of: {known}.",
            )
        )
        return None
    return frozenset(Scope(item) for item in raw)


def _lifetime(raw: object, given: bool, errors: list[FieldError]) -> timedelta:
    if not given:
        return DEFAULT_LIFETIME
    # bool is an int to Python, never to a client; 3600.0 is the integer JSON says it is.
    seconds = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, float) and raw.is_integer():
        seconds = int(raw)
    if seconds is not None and EXPIRES_IN_MIN <= seconds <= EXPIRES_IN_MAX:
        return timedelta(seconds=seconds)
    errors.append(
        FieldError(
            field="expires_in",
            code="out_of_range",
            message=(
                f"expires_in must be a whole number of seconds from {EXPIRES_IN_MIN} "
                f"to {EXPIRES_IN_MAX} (366 days)."
            ),
        )
    )
    return DEFAULT_LIFETIME
