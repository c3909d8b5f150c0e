"""Users and the ownership policy."""

from __future__ import annotations

from datetime import datetime

import attrs

from domain.errors import Forbidden
from domain.policy import Action, Scope, scopes_permit
from domain.sessions import IssuedSession
from domain.types import UserId

USER_ID_MAX = 255


@attrs.frozen(kw_only=True)
class User:
    """Someone who owns tasks: a local account or an identity from a trusted token."""

    id: UserId
    email: str | None = None
    name: str | None = None
    created_at: datetime


@attrs.frozen(kw_only=True)
class Principal:
    """The authenticated caller of a request, as its verified token describes it."""

    user_id: UserId
    email: str | None = None
    session: IssuedSession | None = None
    """Set for the service's own sign-in tokens only: the session that the service can end."""
    scopes: frozenset[Scope] | None = None
    """A personal access token's scopes; None for a sign-in token, which may do everything."""
    issued_at: datetime | None = attrs.field(default=None, eq=False)
    """When a sign-in token was issued (its `iat`), when it says; not part of who it is."""

    @property
    def signed_in(self) -> bool:
        """Whether the token is a sign-in token (not a personal access token)."""
        return self.scopes is None

    @property
    def signed_in_at(self) -> datetime | None:
        """When the person last proved who they are to get this token, as far as it tells."""
        if self.session is not None:
            return self.session.issued_at
        return self.issued_at if self.signed_in else None


def ensure_owner(principal: Principal, owner: UserId) -> None:
    """Refuse access to `owner`'s data by anyone but `owner`."""
    if principal.user_id != owner:
        raise Forbidden("You may only access your own tasks.")


@attrs.frozen(kw_only=True)
class Caller:
    """Who asks (the principal of a verified token) and whose tasks they ask about."""

    principal: Principal
    owner: UserId

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        """`principal` asking about their own tasks."""
        return cls(principal=principal, owner=principal.user_id)

    def check(self) -> None:
        """Apply the ownership policy: Forbidden unless the principal is the owner."""
        ensure_owner(self.principal, self.owner)

    def authorize(self, action: Action) -> None:
        """Forbidden unless the principal owns the data and its token's scopes allow `action`."""
        ensure_owner(self.principal, self.owner)
        if not scopes_permit(self.principal.scopes, action):
            raise Forbidden(f"This token's scopes do not allow this ({action.value}).")
