"""What the web UI needs from the composition root."""

from __future__ import annotations

import attrs

from adapters.web.openid import OpenIdConfig
from taskservice.ports import MIN_SECRET_BYTES, Clock, Sealer
from taskservice.services import UseCases


@attrs.frozen(kw_only=True)
class WebDependencies:
    """The use cases the browser UI drives, the clock and sealer of its undo values, and its
    cookie and CSRF settings."""

    use_cases: UseCases
    clock: Clock
    sealer: Sealer
    cookie_secure: bool = True
    csrf_secret: bytes = attrs.field(repr=False)
    openid: OpenIdConfig | None = None
    """The OpenID Provider people may sign in with; None: local accounts only."""

    @csrf_secret.validator
    def _long_enough(self, _: attrs.Attribute[bytes], value: bytes) -> None:
        if len(value) < MIN_SECRET_BYTES:
            raise ValueError(f"csrf_secret must be at least {MIN_SECRET_BYTES} bytes")
