"""The task: its fields, the rules every value obeys, and how a change is applied."""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Final, Literal

import attrs

from domain.errors import FieldError, ValidationFailed, unknown_fields
from domain.types import ListId, TaskId, UserId, is_id

TITLE_MAX: Final = 200
DESCRIPTION_MAX: Final = 1000
TAGS_MAX: Final = 20
TAG_MAX: Final = 50

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# RFC 3339 without leap seconds (Python has no 23:59:60); offsets within ±23:59.
_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt]((?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d)(?:\.(\d+))?"
    r"([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,
)
# Due days stop a day short of the calendar's ends, so that any offset can still reach UTC.
DUE_FIRST: Final = date(1, 1, 2)
DUE_LAST: Final = date(9999, 12, 30)


class Priority(enum.StrEnum):
    """How urgent a task is; the rank orders none < low < medium < high.

    A string enum: each priority is its wire name, which JSON encoders write as the plain
    string it is (a plain Enum costs orjson a Python call per task for `.value`).
    """

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """The position of this priority in the order none < low < medium < high."""
        return _PRIORITY_RANK[self]


PRIORITIES_BY_RANK: Final = tuple(Priority)
"""Every priority, at the index of its rank."""
_PRIORITY_RANK: Final = {p: i for i, p in enumerate(PRIORITIES_BY_RANK)}
_PRIORITY_NAMES: Final = f"{', '.join(PRIORITIES_BY_RANK[:-1])} or {PRIORITIES_BY_RANK[-1]}"


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET: Final = _Unset.UNSET
"""Marks a field the client left out, as opposed to one it set to null."""

Mode = Literal["create", "replace", "patch"]


class InvalidValue(ValueError):
    """One value breaks one rule: a machine-readable code and a sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_control(char: str) -> bool:
    """Whether `char` is a C0 or C1 control character or DEL."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


# The characters is_control names, as regular expressions: a search runs in C, where a loop
# over the characters ran once for every character of every title, token subject and e-mail.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_SPACING: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control(text: str, *, spacing_allowed: bool = False) -> bool:
    """Whether `text` holds a control character; tab, LF and CR pass if `spacing_allowed`."""
    pattern = _CONTROL_BUT_SPACING if spacing_allowed else _CONTROL
    return pattern.search(text) is not None


def _string(raw: object, field: str) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("invalid_type", f"{field} must be a string.")
    return raw


def parse_name(raw: object, *, field: str, label: str, longest: int) -> str:
    """A trimmed one-line name of 1–`longest` characters without control characters.

    The rules of a task's title, shared with every other name (a list's); `label` names the
    thing in messages ("The title").
    """
    name = _string(raw, field).strip()
    if not name:
        raise InvalidValue("blank", f"{label} cannot be empty.")
    if len(name) > longest:
        raise InvalidValue("too_long", f"{label} must be at most {longest} characters.")
    if has_control(name):
        raise InvalidValue("control_character", f"{label} cannot contain control characters.")
    return name


def parse_title(raw: object) -> str:
    """A trimmed title of 1–200 characters without control characters."""
    return parse_name(raw, field="title", label="The title", longest=TITLE_MAX)


def parse_description(raw: object) -> str | None:
    """A description of at most 1000 characters (none when empty); tab, CR and LF are the only
    controls allowed."""
    text = _string(raw, "description")
    if len(text) > DESCRIPTION_MAX:
        raise InvalidValue(
            "too_long", f"The description must be at most {DESCRIPTION_MAX} characters."
        )
    if has_control(text, spacing_allowed=True):
        raise InvalidValue(
            "control_character",
            "The description cannot contain control characters other than tab and line breaks.",
        )
    return text or None


def _completed(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise InvalidValue("invalid_type", "completed must be true or false.")
    return raw


def _priority(raw: object) -> Priority:
    try:
        return Priority(_string(raw, "priority"))
    except ValueError:
        raise InvalidValue("invalid_choice", f"priority must be {_PRIORITY_NAMES}.") from None


def parse_due_date(raw: object) -> date:
    """An all-day date written YYYY-MM-DD, from 0001-01-02 to 9999-12-30."""
    text = _string(raw, "due_date")
    try:
        day = date.fromisoformat(text) if _DATE.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidValue("invalid_date", "due_date must be a date written YYYY-MM-DD.")
    _check_due_day(day, "due_date")
    return day


def parse_due_at(raw: object) -> datetime:
    """An RFC 3339 date-time with an offset on a day from 0001-01-02 to 9999-12-30, in UTC."""
    text = _string(raw, "due_at")
    match = _DATETIME.fullmatch(text)
    try:
        moment = _local_moment(*match.groups()) if match else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidValue(
            "invalid_datetime",
            "due_at must be an RFC 3339 date-time with an offset, e.g. 2030-01-31T09:00:00Z.",
        )
    _check_due_day(moment.date(), "due_at")
    return moment.astimezone(UTC)


def _local_moment(day: str, clock: str, fraction: str | None, offset: str) -> datetime:
    micro = (fraction or "")[:6].ljust(6, "0")
    zone = "+00:00" if offset in "Zz" else offset
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")


def _check_due_day(day: date, field: str) -> None:
    if not DUE_FIRST <= day <= DUE_LAST:
        raise InvalidValue("out_of_range", f"{field} must fall between {DUE_FIRST} and {DUE_LAST}.")


def normalise_tag(raw: object) -> str:
    """A trimmed, lower-cased tag of 1–50 letters, digits, spaces, hyphens or underscores."""
    tag = _string(raw, "tags").strip().lower()
    if not tag:
        raise InvalidValue("blank", "A tag cannot be empty.")
    if len(tag) > TAG_MAX:
        raise InvalidValue("too_long", f"A tag must be at most {TAG_MAX} characters.")
    if not all(c.isalpha() or c.isdecimal() or c in " -_" for c in tag):
        raise InvalidValue(
            "invalid_character", "Tags may hold letters, digits, spaces, hyphens and underscores."
        )
    return tag


def parse_tags(raw: object) -> tuple[str, ...]:
    """At most 20 tags, normalised, duplicates dropped, first occurrence's order kept."""
    if not isinstance(raw, list):
        raise InvalidValue("invalid_type", "tags must be an array of strings.")
    # Counted as sent, before duplicates drop, so that the limit is one a schema can state.
    if len(raw) > TAGS_MAX:
        raise InvalidValue("too_many", f"A task can have at most {TAGS_MAX} tags.")
    return tuple(dict.fromkeys(normalise_tag(item) for item in raw))


NO_LIST: Final = ListId(0)
"""The list id of a task not yet placed in one (as id 0 is that of a task not yet stored)."""

Parser = Callable[[object], object]
_PARSE: Final = "parse"


def _parsed_by(parse: Parser) -> dict[str, Parser]:
    # The metadata that makes a Task field one that clients write, through `parse`.
    return {_PARSE: parse}


@attrs.frozen(slots=False)
class Task:
    """A user's to-do item as stored; `version` grows by one with every real change.

    Immutable: every change makes a new Task (attrs.evolve). These fields are the one definition
    of what a task holds: a field with a parser in its metadata is one that clients write, the
    others are the server's; `| None` in its type makes it nullable. TASK_FIELDS below reads them.
    """

    # A dict class: a frozen slotted class sets each field through object.__setattr__ (19,500
    # instructions a Task against 9,600), a frozen dict class writes its __dict__ directly.
    # The field order is the positional order of __init__, which only the persistence adapter's
    # row mapping uses (a list builds one Task per row); everyone else names the fields.
    id: TaskId
    user_id: UserId
    title: str = attrs.field(metadata=_parsed_by(parse_title))
    created_at: datetime
    updated_at: datetime
    description: str | None = attrs.field(default=None, metadata=_parsed_by(parse_description))
    completed: bool = attrs.field(default=False, metadata=_parsed_by(_completed))
    completed_at: datetime | None = None
    priority: Priority = attrs.field(default=Priority.NONE, metadata=_parsed_by(_priority))
    due_date: date | None = attrs.field(default=None, metadata=_parsed_by(parse_due_date))
    due_at: datetime | None = attrs.field(default=None, metadata=_parsed_by(parse_due_at))
    tags: tuple[str, ...] = attrs.field(default=(), metadata=_parsed_by(parse_tags))
    version: int = 1
    # Where the task sits (SPEC §7): server fields, named last so that a client of the first
    # contract sees them as new fields at the end. A create may choose list and parent
    # (TaskChanges); after that only a move changes them. `list_id` 0 and `position` "" mark a
    # task not yet placed, as id 0 marks one not yet stored.
    list_id: ListId = NO_LIST
    parent_id: TaskId | None = None
    position: str = ""
    created_by: UserId = attrs.field(
        default=attrs.Factory(lambda task: task.user_id, takes_self=True)
    )

    @property
    def etag(self) -> str:
        """The strong entity tag of this version."""
        return f'"{self.version}"'

    @property
    def is_subtask(self) -> bool:
        """Whether this task sits under a parent task."""
        return self.parent_id is not None

    @classmethod
    def create(
        cls,
        *,
        user_id: UserId,
        changes: TaskChanges,
        now: datetime,
        place: Place | None = None,
        created_by: UserId | None = None,
    ) -> Task:
        """A new, unsaved task at version 1 (id 0 until the repository assigns one).

        `user_id` owns the list the task goes to, `place` is where in it, `created_by` who
        creates it (the owner unless given). The placement fields of `changes` are the use
        case's to resolve into `place`; they are not read here.
        """
        if isinstance(changes.title, _Unset):
            raise ValidationFailed(
                [FieldError(field="title", code="required", message="A title is required.")]
            )
        values = _values_after(changes, now, completed=False)
        where = place or Place()
        return cls(
            id=TaskId(0),
            user_id=user_id,
            created_at=now,
            updated_at=now,
            list_id=where.list_id,
            parent_id=where.parent_id,
            position=where.position,
            created_by=created_by or user_id,
            **values,  # type: ignore[arg-type]
        )

    def placed(self, place: Place, *, user_id: UserId, now: datetime) -> Task:
        """This task at `place` in a list `user_id` owns; itself, unchanged, if it is there already."""
        if (self.list_id, self.parent_id, self.position, self.user_id) == (
            place.list_id,
            place.parent_id,
            place.position,
            user_id,
        ):
            return self
        return attrs.evolve(
            self,
            list_id=place.list_id,
            parent_id=place.parent_id,
            position=place.position,
            user_id=user_id,
            version=self.version + 1,
            updated_at=now,
        )

    def apply(self, changes: TaskChanges, now: datetime) -> Task:
        """This task with `changes` applied; itself, unchanged, when nothing would differ."""
        values = _values_after(changes, now, completed=self.completed)
        if all(getattr(self, name) == value for name, value in values.items()):
            return self
        return attrs.evolve(self, **values, version=self.version + 1, updated_at=now)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class Place:
    """Where a task sits: its list, its parent (None: top level) and its position there."""

    list_id: ListId = NO_LIST
    parent_id: TaskId | None = None
    position: str = ""


def field_values(task: Task) -> dict[str, typing.Any]:
    """Every field of `task` by name, in TASK_FIELDS' order, as a new dict.

    A copy of the instance's __dict__, which in a dict class holds exactly its fields: attrs.asdict
    walks the fields in Python and a dict written out by hand repeats their names.
    """
    return task.__dict__.copy()


@attrs.frozen
class TaskField:
    """One field of Task: its name, whether it may be null, and the parser of a client's value
    (None for the fields the server manages)."""

    name: str
    nullable: bool
    parse: Parser | None

    @property
    def writable(self) -> bool:
        """Whether clients set this field (the server manages the others)."""
        return self.parse is not None


def _task_fields() -> tuple[TaskField, ...]:
    hints = typing.get_type_hints(Task)
    return tuple(
        TaskField(
            name=field.name,
            nullable=type(None) in typing.get_args(hints[field.name]),
            parse=field.metadata.get(_PARSE),
        )
        for field in attrs.fields(Task)
    )


TASK_FIELDS: Final = _task_fields()
"""Every field of Task, in its positional order."""
WRITABLE_FIELDS: Final = frozenset(f.name for f in TASK_FIELDS if f.writable)
"""What clients set; TaskChanges has a field for each."""
SERVER_FIELDS: Final = frozenset(f.name for f in TASK_FIELDS if not f.writable)
"""What the server manages; a client echoing a whole task back sends them, and they are ignored."""
_PARSERS: Final = {f.name: f.parse for f in TASK_FIELDS if f.parse is not None}
_NOT_NULLABLE: Final = frozenset(f.name for f in TASK_FIELDS if f.writable and not f.nullable)
_KNOWN_FIELDS: Final = frozenset(f.name for f in TASK_FIELDS)
PLACEMENT_FIELDS: Final = ("list_id", "parent_id")
"""Server fields that a create may set (where the new task goes); later only a move changes
them, and a replace or patch that names them is refused."""


@attrs.frozen(kw_only=True)
class TaskChanges:
    """Validated values for the writable fields; UNSET means "leave as it is"."""

    title: str | _Unset = UNSET
    description: str | _Unset | None = UNSET
    completed: bool | _Unset = UNSET
    priority: Priority | _Unset = UNSET
    due_date: date | _Unset | None = UNSET
    due_at: datetime | _Unset | None = UNSET
    tags: tuple[str, ...] | _Unset = UNSET
    # The placement a create asks for (PLACEMENT_FIELDS): the caller's default list and the top
    # level when UNSET. Never applied to a stored task: only the use case's move changes them.
    list_id: ListId | _Unset = UNSET
    parent_id: TaskId | _Unset | None = UNSET


# attrs.asdict would find these names again on every call.
_CHANGEABLE: Final = tuple(
    field.name for field in attrs.fields(TaskChanges) if field.name not in PLACEMENT_FIELDS
)


def _values_after(changes: TaskChanges, now: datetime, *, completed: bool) -> dict[str, object]:
    # The fields `changes` sets, with what follows from them: one due kind clears the other, and
    # completing or reopening a task that was `completed` or not sets or clears completed_at.
    values: dict[str, object] = {
        name: value for name in _CHANGEABLE if (value := getattr(changes, name)) is not UNSET
    }
    if values.get("due_date") is not None:
        values["due_at"] = None
    if values.get("due_at") is not None:
        values["due_date"] = None
    now_completed = values.get("completed", completed)
    if now_completed != completed:
        values["completed_at"] = now if now_completed else None
    return values


def _placement(name: str, raw: object, mode: Mode) -> object:
    if mode != "create":
        raise InvalidValue(
            "read_only",
            f"{name} is set on create and changed only by POST /api/{{user_id}}/tasks/{{id}}/move.",
        )
    if raw is None and name == "parent_id":
        return None
    if not is_id(raw):
        kind = "a list" if name == "list_id" else "a task"
        raise InvalidValue("invalid_type", f"{name} must be the id of {kind}.")
    return raw


def parse_changes(data: Mapping[str, object], mode: Mode) -> TaskChanges:
    """Validate a JSON object of task fields; raise ValidationFailed listing every broken rule."""
    errors = unknown_fields(data, _KNOWN_FIELDS)
    values: dict[str, object] = {}
    for name in (n for n in data if n in _PARSERS):
        raw = data[name]
        if raw is None and name in _NOT_NULLABLE:
            errors.append(FieldError(field=name, code="null", message=f"{name} cannot be null."))
            continue
        try:
            values[name] = None if raw is None else _PARSERS[name](raw)
        except InvalidValue as exc:
            errors.append(FieldError(field=name, code=exc.code, message=exc.message))
    for name in (n for n in PLACEMENT_FIELDS if n in data):
        try:
            values[name] = _placement(name, data[name], mode)
        except InvalidValue as exc:
            errors.append(FieldError(field=name, code=exc.code, message=exc.message))
    if mode != "patch" and "title" not in data:
        errors.append(FieldError(field="title", code="required", message="A title is required."))
    if values.get("due_date") is not None and values.get("due_at") is not None:
        errors.append(
            FieldError(
                field="due_at",
                code="conflict",
                message="Set either due_date or due_at, not both.",
            )
        )
    if errors:
        raise ValidationFailed(errors)
    return TaskChanges(**values)  # type: ignore[arg-type]


def parse_completion(data: Mapping[str, object]) -> bool | None:
    """The state a completion body `{"completed"?}` sets, or None for a toggle (`{}`).

    ValidationFailed lists every broken rule.
    """
    errors = unknown_fields(data, _COMPLETION_FIELDS)
    value = data.get("completed")
    if "completed" in data:
        try:
            value = _completed(value)
        except InvalidValue as exc:
            errors.append(FieldError(field="completed", code=exc.code, message=exc.message))
    if errors:
        raise ValidationFailed(errors)
    return value if isinstance(value, bool) else None


_COMPLETION_FIELDS: Final = frozenset({"completed"})


@attrs.frozen(kw_only=True)
class Move:
    """Where a move (POST …/tasks/{id}/move) asks a task to go.

    `list_id`: UNSET keeps the list. `parent_id`: None makes it top-level; UNSET keeps the parent
    within the list and makes it top-level in another. `after`: a sibling to follow at the
    destination, None for first; UNSET keeps the place if list and parent stay, else the end.
    """

    list_id: ListId | _Unset = UNSET
    parent_id: TaskId | _Unset | None = UNSET
    after: TaskId | _Unset | None = UNSET


_MOVE_FIELDS: Final = frozenset(field.name for field in attrs.fields(Move))


def _move_target(name: str, raw: object) -> object:
    if raw is None and name != "list_id":
        return None
    if not is_id(raw):
        kind = "a list" if name == "list_id" else "a task"
        raise InvalidValue("invalid_type", f"{name} must be the id of {kind}.")
    return raw


def parse_move(data: Mapping[str, object]) -> Move:
    """Validate a move's body `{"list_id"?, "parent_id"?, "after"?}`; ValidationFailed lists
    every broken rule (ids that name nothing visible are the use case's to refuse)."""
    errors = unknown_fields(data, _MOVE_FIELDS)
    values: dict[str, object] = {}
    for name in (n for n in data if n in _MOVE_FIELDS):
        try:
            values[name] = _move_target(name, data[name])
        except InvalidValue as exc:
            errors.append(FieldError(field=name, code=exc.code, message=exc.message))
    if errors:
        raise ValidationFailed(errors)
    return Move(**values)  # type: ignore[arg-type]
