"""People who sign in through an OpenID Provider: known by issuer and subject, nothing else."""

from __future__ import annotations

from typing import Final

import attrs

from domain.accounts import EMAIL_MAX, NAME_MAX
from domain.tasks import has_control

ISSUER_MAX: Final = 255
SUBJECT_MAX: Final = 255
"""OpenID Connect Core §2: `sub` is at most 255 ASCII characters."""


@attrs.frozen(kw_only=True)
class ExternalIdentity:
    """Who an OpenID Provider says signed in: the key (`issuer`, `subject`), and display data.

    The e-mail is kept for display only: it never links the person to a local account with the
    same address (whoever controls an issuer could otherwise claim any address).
    """

    issuer: str
    subject: str
    email: str | None = None
    name: str | None = None

    @classmethod
    def from_claims(cls, issuer: str, claims: dict[str, object]) -> ExternalIdentity | None:
        """The identity of verified ID-token claims; None when `sub` is unusable."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= SUBJECT_MAX:
            return None
        if has_control(subject):
            return None
        return cls(
            issuer=issuer,
            subject=subject,
            email=_shown(claims.get("email"), EMAIL_MAX),
            name=_shown(claims.get("name"), NAME_MAX),
        )


def _shown(value: object, longest: int) -> str | None:
    # Display data from the provider: kept when it fits the column and says nothing odd.
    if isinstance(value, str) and 0 < len(value.strip()) <= longest and not has_control(value):
        return value.strip()
    return None
