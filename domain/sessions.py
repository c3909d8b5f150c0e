"""Sessions of the service's own tokens, and which of them have ended before their expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import attrs

SESSION_ID_MAX: Final = 64
"""The longest session id (`jti`) the service accepts; it issues 22 characters."""
REVOCATION_DELAY: Final = timedelta(seconds=1)
"""The longest another process may still accept a session after it ended (SPEC §5, §10)."""


@attrs.frozen(kw_only=True)
class IssuedSession:
    """A session token this service issued: its id (`jti`), when it was issued, when it lapses.

    `expires_at` is when every verifier refuses the token anyway (its expiry plus the leeway), so
    that a record of its end is needed until then and no longer.
    """

    id: str
    issued_at: datetime
    expires_at: datetime


@attrs.frozen(kw_only=True)
class EndedSessions:
    """A user's sessions that have ended: all issued before `before`, and those named in `ids`."""

    before: datetime | None = None
    ids: frozenset[str] = frozenset()

    def ends(self, session: IssuedSession) -> bool:
        """Whether `session` is one of them."""
        return session.id in self.ids or (
            self.before is not None and session.issued_at < self.before
        )
