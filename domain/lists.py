"""Task lists, their members and invites (SPEC §7): the values, the limits, the rules of input."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import attrs

from domain.errors import FieldError, ValidationFailed, unknown_fields
from domain.queries import TaskCounts
from domain.tasks import InvalidValue, parse_name
from domain.types import ListId, UserId

LIST_NAME_MAX: Final = 100
LISTS_PER_OWNER_MAX: Final = 1000
"""Lists one user may own (shared lists they belong to do not count)."""
MEMBERS_MAX: Final = 50
"""People who share one list, its owner included."""
OPEN_INVITES_MAX: Final = 100
"""Invites of one list that may be open at once: enough for a household, not a store to fill."""
DEFAULT_LIST_NAME: Final = "Inbox"
INVITE_LIFETIME: Final = timedelta(days=7)
INVITE_LIFETIME_MIN: Final = timedelta(seconds=60)
INVITE_LIFETIME_MAX: Final = timedelta(seconds=604_800)
INVITE_CODE_BYTES: Final = 32
"""Random bytes of an invite code (secrets.token_urlsafe): 256 bits, never derived from ids."""


class Role(enum.StrEnum):
    """What a member of a list is; the policy (domain.policy) says what each may do."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"


GRANTABLE_ROLES: Final = (Role.EDITOR, Role.VIEWER)
"""The roles an invite or a role change may give: a list has exactly one owner, its maker."""


@attrs.frozen(kw_only=True)
class TaskList:
    """A named list of tasks that its owner may share; `version` grows with every rename."""

    id: ListId
    owner_id: UserId
    name: str
    is_default: bool = False
    version: int = 1
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        """The strong entity tag of this version."""
        return f'"{self.version}"'

    @classmethod
    def create(
        cls, *, owner_id: UserId, name: str, now: datetime, is_default: bool = False
    ) -> TaskList:
        """A new, unsaved list at version 1 (id 0 until the repository assigns one)."""
        return cls(
            id=ListId(0),
            owner_id=owner_id,
            name=name,
            is_default=is_default,
            created_at=now,
            updated_at=now,
        )

    @classmethod
    def default_for(cls, owner_id: UserId, now: datetime) -> TaskList:
        """A new, unsaved default list ("Inbox") of `owner_id`."""
        return cls.create(owner_id=owner_id, name=DEFAULT_LIST_NAME, now=now, is_default=True)

    def renamed(self, name: str, now: datetime) -> TaskList:
        """This list under `name`; itself, unchanged, when it already has that name."""
        if name == self.name:
            return self
        return attrs.evolve(self, name=name, version=self.version + 1, updated_at=now)


@attrs.frozen(kw_only=True)
class ListView:
    """A list as one member sees it: the list, their role, how many share it, its counts."""

    list: TaskList
    role: Role
    members: int
    counts: TaskCounts


LIST_FIELDS: Final = tuple(field.name for field in attrs.fields(TaskList))
"""What a list holds, in its order: the first fields of what a member is shown of it."""
VIEW_FIELDS: Final = tuple(field.name for field in attrs.fields(ListView) if field.name != "list")
"""What one member sees of a list besides the list itself: their role, how many share it, its
counts; the last fields of what they are shown."""


def view_values(view: ListView) -> dict[str, Any]:
    """A list as one member sees it, by field name (SPEC §7): the list's fields, then the
    member's role, the number of members and the counts (a dict of their own)."""
    values = attrs.asdict(view.list, recurse=False)
    for name in VIEW_FIELDS:
        value = getattr(view, name)
        values[name] = attrs.asdict(value) if attrs.has(type(value)) else value
    return values


@attrs.frozen(kw_only=True)
class Membership:
    """That a user belongs to a list, in a role, since a moment."""

    list_id: ListId
    user_id: UserId
    role: Role
    joined_at: datetime


@attrs.frozen(kw_only=True)
class Member:
    """A member of a list as the members list shows them (the owner included).

    `email` is None unless the one asking is the list's owner (use case `members`).
    """

    user_id: UserId
    name: str | None
    email: str | None
    role: Role
    joined_at: datetime


@attrs.frozen(kw_only=True)
class Invite:
    """An open invitation to join a list in a role until it expires; stored by its code's hash."""

    list_id: ListId
    role: Role
    expires_at: datetime
    created_at: datetime
    created_by: UserId
    code_hash: str

    def is_open(self, now: datetime) -> bool:
        """Whether the invite can still be accepted at `now`."""
        return now < self.expires_at


@attrs.frozen(kw_only=True)
class IssuedInvite:
    """A new invite and its code: the one time the code is shown (only its hash is stored)."""

    invite: Invite
    code: str


@attrs.frozen(kw_only=True)
class Members:
    """The members of a list as one member may see them.

    `with_email` is true for the list's owner only; otherwise every `Member.email` is None and
    a representation leaves the e-mail out altogether.
    """

    members: list[Member]
    with_email: bool


@attrs.frozen(kw_only=True)
class InviteTerms:
    """What an invite the owner asks for gives: a role, for how long."""

    role: Role
    lifetime: timedelta = INVITE_LIFETIME


def hash_invite_code(code: str) -> str:
    """The stored form of an invite code (SHA-256, hex): a leaked table gives nobody a code.

    A code carries 256 random bits, so a fast unsalted hash is enough: nobody can guess one.
    """
    return hashlib.sha256(code.encode()).hexdigest()


def parse_list_name(raw: object) -> str:
    """A list's name: the rules of a task's title, 1–100 characters."""
    return parse_name(raw, field="name", label="The name", longest=LIST_NAME_MAX)


T = TypeVar("T")


def parse_list_fields(data: Mapping[str, object]) -> str:
    """The name of a list's body `{"name"}` (create and rename); ValidationFailed otherwise."""
    errors = unknown_fields(data, frozenset({"name"}))
    name = _one(data, "name", parse_list_name, errors, required=True)
    if errors:
        raise ValidationFailed(errors)
    assert name is not None
    return name


def parse_role(raw: object) -> Role:
    """A role an invite or a role change may give: "editor" or "viewer"."""
    if isinstance(raw, str) and raw in GRANTABLE_ROLES:
        return Role(raw)
    raise InvalidValue("invalid_choice", "role must be editor or viewer.")


def parse_member_role(data: Mapping[str, object]) -> Role:
    """The role of a role change's body `{"role"}`; ValidationFailed otherwise."""
    errors = unknown_fields(data, frozenset({"role"}))
    role = _one(data, "role", parse_role, errors, required=True)
    if errors:
        raise ValidationFailed(errors)
    assert role is not None
    return role


def _lifetime(raw: object) -> timedelta:
    shortest, longest = (int(t.total_seconds()) for t in (INVITE_LIFETIME_MIN, INVITE_LIFETIME_MAX))
    if type(raw) is not int or not shortest <= raw <= longest:
        raise InvalidValue(
            "out_of_range",
            f"expires_in must be a whole number of seconds from {shortest} to {longest}.",
        )
    return timedelta(seconds=raw)


def parse_invite_terms(data: Mapping[str, object]) -> InviteTerms:
    """The terms of an invite's body `{"role", "expires_in"?}`; ValidationFailed otherwise."""
    errors = unknown_fields(data, frozenset({"role", "expires_in"}))
    role = _one(data, "role", parse_role, errors, required=True)
    lifetime = _one(data, "expires_in", _lifetime, errors, required=False)
    if errors:
        raise ValidationFailed(errors)
    assert role is not None
    return InviteTerms(role=role, lifetime=lifetime or INVITE_LIFETIME)


def _one(
    data: Mapping[str, object],
    name: str,
    parse: Callable[[object], T],
    errors: list[FieldError],
    *,
    required: bool,
) -> T | None:
    if name not in data:
        if required:
            errors.append(FieldError(field=name, code="required", message=f"{name} is required."))
        return None
    try:
        return parse(data[name])
    except InvalidValue as exc:
        errors.append(FieldError(field=name, code=exc.code, message=exc.message))
        return None
