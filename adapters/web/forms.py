"""HTML forms: reading a bounded urlencoded body and turning task forms into domain input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from adapters.web.outline import FIRST, TOP_LEVEL
from adapters.web.routing import PageError
from domain.errors import FieldError
from domain.tasks import Task
from domain.types import parse_id

FORM_MAX_BYTES: Final = 64 * 1024
_FORM_MAX_FIELDS: Final = 50
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}", re.ASCII)
_LOCAL_MINUTES = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.ASCII)

Form = dict[str, str]

# Browser-facing wording for rules whose API message names JSON formats.
_UI_MESSAGES: Final = {
    ("due_at", "invalid_datetime"): "Enter a valid date and time.",
    ("due_at", "conflict"): "Choose either a due date or a due time, not both.",
    ("due_date", "invalid_date"): "Enter a valid date.",
    ("priority", "invalid_choice"): "Choose a priority from the list.",
    ("email", "required"): "Enter your e-mail address.",
    ("password", "required"): "Enter your password.",
}


async def read_form(request: Request) -> Form:
    """The fields of an urlencoded form body (first value of each name); refuse anything else."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # A body-less POST (no content type) reads as an empty form and fails its CSRF check.
    if media_type not in {"application/x-www-form-urlencoded", ""}:
        raise PageError(415, "Unsupported form", "This form must be sent as a plain HTML form.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            raise PageError(413, "Too much text", "The form is too large to be accepted.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=_FORM_MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Bad request", "The form could not be read.") from None
    form: Form = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


# The words a form sends for "no id" where null has a meaning (SPEC §7's move and create).
_NO_ID: Final = {"parent_id": TOP_LEVEL, "after": FIRST}


def ids(form: Mapping[str, str], names: tuple[str, ...]) -> dict[str, object]:
    """The ids a form names under `names` (those it sends), as a JSON body would carry them:
    numbers, or None for the word `_NO_ID` gives that name. A 400 page for anything else."""
    data: dict[str, object] = {}
    for name in names:
        raw = form.get(name)
        if raw is None:
            continue
        number = None if raw == _NO_ID.get(name) else parse_id(raw)
        if number is None and raw != _NO_ID.get(name):
            raise PageError(400, "Bad request", "The form named something that is not there.")
        data[name] = number
    return data


def expected_version(form: Mapping[str, str]) -> frozenset[int] | None:
    """The version an edit form was opened at (its If-Match), if it carries one."""
    version = form.get("version", "")
    if version.isascii() and version.isdecimal() and len(version) <= 19:
        return frozenset({int(version)})
    return None


def field_errors(details: list[FieldError]) -> dict[str, str]:
    """The first broken rule of each field, worded for a form."""
    errors: dict[str, str] = {}
    for detail in details:
        message = _UI_MESSAGES.get((detail.field, detail.code), detail.message)
        errors.setdefault(detail.field, message)
    return errors


def task_data(form: Mapping[str, str], *, current: Task | None = None) -> dict[str, object]:
    """The task fields of a create or edit form, in the shape `parse_changes` validates."""
    due_date = form.get("due_date", "")
    due_at = _rfc3339(form.get("due_at", ""), form.get("due_offset", ""))
    data: dict[str, object] = {
        "title": form.get("title", ""),
        "description": _lf(form.get("description", "")),
        "priority": form.get("priority") or "none",
        "due_date": due_date or None,
        "due_at": due_at,
        "tags": [t for t in form.get("tags", "").split(",") if t.strip()],
    }
    if current is None:
        return {k: v for k, v in data.items() if v is not None}
    # What the form shows as it was stored is left out, so that an untouched form changes nothing
    # (a textarea normalises line breaks, a datetime-local input drops fractions of a second).
    if _lines(str(data["description"])) == _lines(current.description or ""):
        del data["description"]
    if not due_date and due_at is not None and _same_moment(due_at, current.due_at):
        del data["due_at"]
    return data


def task_form(task: Task | None = None) -> Form:
    """The form values that show `task` (or an empty form)."""
    if task is None:
        return {"priority": "none", "due_offset": "+00:00"}
    return {
        "title": task.title,
        "description": task.description or "",
        "priority": task.priority.value,
        "due_date": task.due_date.isoformat() if task.due_date else "",
        "due_at": local_input(task.due_at) if task.due_at else "",
        "due_offset": "+00:00",
        "tags": ", ".join(task.tags),
    }


def local_input(moment: datetime) -> str:
    """A UTC moment as a datetime-local value, with seconds only when it has some."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M")


def _lf(text: str) -> str:
    # Browsers send a textarea's line breaks as CRLF; the user typed (and sees) plain LF.
    return text.replace("\r\n", "\n")


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _rfc3339(local: str, offset: str) -> str | None:
    """A datetime-local value plus the browser's offset (UTC without script) as RFC 3339."""
    if not local:
        return None
    zone = offset if _OFFSET.fullmatch(offset) else "+00:00"
    seconds = ":00" if _LOCAL_MINUTES.fullmatch(local) else ""
    return f"{local}{seconds}{zone}"


def _same_moment(text: str, stored: datetime | None) -> bool:
    if stored is None:
        return False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment == stored.replace(microsecond=0)
