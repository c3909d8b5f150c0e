"""What the web UI needs from the composition root."""

from __future__ import annotations

import attrs

from taskservice.cursors import CursorCodec
from taskservice.ports import (
    MIN_SECRET_BYTES,
    Clock,
    PasswordHasher,
    Sealer,
    Throttle,
    TokenIssuer,
    UnitOfWorkFactory,
)
from taskservice.services import SessionGuard


@attrs.frozen(kw_only=True)
class WebDependencies:
    """The ports the browser UI drives, the cursor codec, and its cookie and CSRF settings."""

    uow: UnitOfWorkFactory
    clock: Clock
    sessions: SessionGuard
    """Verifies the session cookie's token, and knows which sessions have ended."""
    hasher: PasswordHasher
    issuer: TokenIssuer
    throttle: Throttle
    cursors: CursorCodec
    sealer: Sealer
    allow_signup: bool = True
    cookie_secure: bool = True
    csrf_secret: bytes = attrs.field(repr=False)

    @csrf_secret.validator
    def _long_enough(self, _: attrs.Attribute[bytes], value: bytes) -> None:
        if len(value) < MIN_SECRET_BYTES:
            raise ValueError(f"csrf_secret must be at least {MIN_SECRET_BYTES} bytes")
