"""Errors the domain raises; each maps to one HTTP status in the driving adapters."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import attrs


class DomainError(Exception):
    """Base class of every error the core raises on purpose."""

    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


@attrs.frozen(kw_only=True)
class FieldError:
    """One broken rule of one field or query parameter."""

    field: str
    code: str
    message: str


def unknown_fields(data: Mapping[str, object], known: AbstractSet[str]) -> list[FieldError]:
    """One `unknown_field` error per key of `data` outside `known`, in a stable order."""
    return [
        FieldError(field=name, code="unknown_field", message=f"Unknown field {name!r}.")
        for name in sorted(set(data) - known)
    ]


class ValidationFailed(DomainError):
    """Input broke one or more rules; `details` lists every one."""

    message = "The request has invalid fields."

    def __init__(self, details: list[FieldError], message: str | None = None) -> None:
        super().__init__(message)
        self.details = details


class NotFound(DomainError):
    """The thing does not exist or belongs to someone else (the two are indistinguishable)."""

    message = "Not found."


class Forbidden(DomainError):
    """The caller may not act on this resource at all."""

    message = "You may not access this resource."


class PreconditionFailed(DomainError):
    """The caller's expected version is not the current one; nothing was written."""

    message = "The task has changed since you read it."


class Conflict(DomainError):
    """The write collides with existing state (a registered e-mail, a key in flight)."""

    message = "The request conflicts with the current state."


class SyncExpired(DomainError):
    """A feed cursor older than the history of deletes kept: the client must sync in full."""

    message = "The cursor is older than the change history kept; start a full sync without since."


class InvalidToken(DomainError):
    """A bearer token is missing, malformed, badly signed, expired or not for us."""

    message = "The access token is invalid."


class MissingToken(InvalidToken):
    """No bearer token was sent at all."""

    message = "An access token is required."


class InvalidCredentials(DomainError):
    """Sign-in with an unknown e-mail or a wrong password (one answer for both)."""

    message = "The e-mail or password is incorrect."


class StorageUnavailable(DomainError):
    """The database cannot be reached right now; a retry later may succeed."""

    message = "The service is temporarily unavailable."


class RateLimited(DomainError):
    """Too many attempts from this address or for this account; retry after `retry_after` s."""

    message = "Too many attempts; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class SignUpClosed(Forbidden):
    """Sign-up is turned off on this deployment."""

    message = "Sign-up is closed on this service."


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key came back with a different request than the one it was first used for."""

    message = "This Idempotency-Key was already used with a different request body."


class WrongPassword(Forbidden):
    """The password that confirms a change to the account (new password, deletion) is wrong."""

    message = "The password is incorrect."


class TokenNotAllowed(Forbidden):
    """A personal access token asked for what only a sign-in may do (manage tokens, the account)."""

    message = "Personal access tokens cannot do this; sign in."


class SignInAgain(Forbidden):
    """The account change needs a sign-in more recent than the token's."""

    message = "Sign in again, then repeat this within 10 minutes."
