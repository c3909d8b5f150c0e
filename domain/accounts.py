"""Local accounts: the rules for e-mail addresses, passwords and display names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

import attrs

from domain.errors import FieldError, ValidationFailed, unknown_fields
from domain.tasks import has_control
from domain.users import User

_Rule = Callable[[str], "str | FieldError"]

EMAIL_MAX: Final = 254
PASSWORD_MIN: Final = 8
PASSWORD_MAX: Final = 128
NAME_MAX: Final = 100

# Deliberately plain: one @, a local part without spaces or control characters, and a dotted
# domain of letters, digits and hyphens (Unicode letters allowed for internationalised domains).
_LOCAL = re.compile(r"[^\s\x00-\x1f\x7f-\x9f@\"(),:;<>\[\]\\]{1,64}")
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")


@attrs.frozen(kw_only=True)
class Account:
    """A local user with the hash of their password."""

    user: User
    password_hash: str


@attrs.frozen(kw_only=True)
class Credentials:
    """A validated e-mail and password (and, for sign-up, an optional display name)."""

    email: str
    password: str = attrs.field(repr=False)
    name: str | None = None

    @property
    def email_key(self) -> str:
        """The case-insensitive identity of the e-mail among local accounts."""
        return email_key(self.email)


def email_key(email: str) -> str:
    """The form under which an e-mail is unique: trimmed and lower-cased."""
    return email.strip().lower()


def parse_credentials(data: Mapping[str, object], *, with_name: bool) -> Credentials:
    """Validate a sign-up (`with_name`) or sign-in body; ValidationFailed lists every broken rule."""
    allowed = {"email", "password", "name"} if with_name else {"email", "password"}
    errors = unknown_fields(data, allowed)
    email = _check(errors, "email", data.get("email"), _email)
    password = _check(errors, "password", data.get("password"), _password)
    name = _check(errors, "name", data.get("name"), _name) if data.get("name") is not None else None
    if errors:
        raise ValidationFailed(errors)
    assert email is not None
    assert password is not None
    return Credentials(email=email, password=password, name=name or None)


def _check(errors: list[FieldError], field: str, raw: object, rule: _Rule) -> str | None:
    if raw is None:
        errors.append(FieldError(field=field, code="required", message=f"{field} is required."))
        return None
    if not isinstance(raw, str):
        errors.append(
            FieldError(field=field, code="invalid_type", message=f"{field} must be a string.")
        )
        return None
    problem = rule(raw)
    if isinstance(problem, FieldError):
        errors.append(problem)
        return None
    return problem


def _email(raw: str) -> str | FieldError:
    email = raw.strip()
    # Lower-casing can lengthen it ("İ" becomes two characters), and the key must fit too.
    if max(len(email), len(email_key(email))) > EMAIL_MAX:
        return FieldError(
            field="email",
            code="too_long",
            message=f"The e-mail must be at most {EMAIL_MAX} characters, also in lower case.",
        )
    local, at, domain = email.rpartition("@")
    labels = domain.split(".")
    if not (
        at
        and _LOCAL.fullmatch(local)
        and len(labels) > 1
        and all(_LABEL.fullmatch(x) for x in labels)
    ):
        return FieldError(
            field="email", code="invalid_email", message="This is not a valid e-mail address."
        )
    return email


def _password(raw: str) -> str | FieldError:
    if not PASSWORD_MIN <= len(raw) <= PASSWORD_MAX:
        return FieldError(
            field="password",
            code="invalid_length",
            message=f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
        )
    return raw


def _new_password(raw: str) -> str | FieldError:
    checked = _password(raw)
    return attrs.evolve(checked, field="new") if isinstance(checked, FieldError) else checked


def _name(raw: str) -> str | FieldError:
    name = raw.strip()
    if len(name) > NAME_MAX:
        return FieldError(
            field="name",
            code="too_long",
            message=f"The name must be at most {NAME_MAX} characters.",
        )
    if has_control(name):
        return FieldError(
            field="name",
            code="control_character",
            message="The name cannot contain control characters.",
        )
    return name


def parse_sign_in(data: Mapping[str, object]) -> tuple[str, str]:
    """The e-mail and password of a sign-in body; only their presence and types are checked."""
    errors = unknown_fields(data, {"email", "password"})
    for field in ("email", "password"):
        value = data.get(field)
        if not isinstance(value, str) or not value:
            code = "required" if value in (None, "") else "invalid_type"
            errors.append(
                FieldError(field=field, code=code, message=f"{field} is required as a string.")
            )
    if errors:
        raise ValidationFailed(errors)
    return str(data["email"]), str(data["password"])


@attrs.frozen(kw_only=True)
class PasswordChange:
    """The current password (only its presence checked) and a new one that keeps the rules."""

    current: str = attrs.field(repr=False)
    new: str = attrs.field(repr=False)


def parse_password_change(data: Mapping[str, object]) -> PasswordChange:
    """The body of a password change; ValidationFailed lists every broken rule."""
    errors = unknown_fields(data, {"current", "new"})
    current = data.get("current")
    if not isinstance(current, str) or not current:
        code = "required" if current in (None, "") else "invalid_type"
        errors.append(
            FieldError(field="current", code=code, message="current is required as a string.")
        )
    new = _check(errors, "new", data.get("new"), _new_password)
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(current, str)
    assert new is not None
    return PasswordChange(current=current, new=new)


def parse_deletion(data: Mapping[str, object]) -> str | None:
    """The password of an account deletion's body, if it has one (accounts without one send {})."""
    errors = unknown_fields(data, {"password"})
    password = data.get("password")
    if "password" in data and (not isinstance(password, str) or not password):
        errors.append(
            FieldError(field="password", code="invalid_type", message="password must be a string.")
        )
    if errors:
        raise ValidationFailed(errors)
    return password if isinstance(password, str) else None
