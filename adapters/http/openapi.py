"""The OpenAPI 3.1 document of the JSON API, written to match SPEC.md exactly.

Where a rule of SPEC is more than a type and a length (trimming, control characters, Unicode
letters), the schema spells it out as a pattern, so that what the document admits is exactly
what the service accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final

from adapters.http.codes import ErrorCode
from adapters.http.parsing import MAX_BODY
from adapters.http.representation import COMPLETIONS, FRONTEND_SORTS, ORDERS, SORTS
from adapters.http.style import ENVELOPE, FEED_HEADERS, PAGE_COUNT_HEADERS, Plain, Style
from domain.accounts import EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN
from domain.batches import BATCH_MAX
from domain.idempotency import KEY_MAX
from domain.lists import (
    GRANTABLE_ROLES,
    INVITE_LIFETIME,
    INVITE_LIFETIME_MAX,
    INVITE_LIFETIME_MIN,
    LIST_NAME_MAX,
    Role,
)
from domain.personal_tokens import EXPIRES_IN_MAX, EXPIRES_IN_MIN
from domain.personal_tokens import NAME_MAX as TOKEN_NAME_MAX
from domain.policy import Scope
from domain.queries import (
    LIMIT_DEFAULT,
    LIMIT_MAX,
    TEXT_MAX,
    Due,
    Parent,
    Sort,
    Status,
    TaskFilter,
    time_zones,
)
from domain.sync import FEED_LIMIT_DEFAULT, FEED_LIMIT_MAX, HISTORY_KEPT, Kind, Op
from domain.tasks import (
    DESCRIPTION_MAX,
    PLACEMENT_FIELDS,
    TAG_MAX,
    TAGS_MAX,
    TASK_FIELDS,
    TITLE_MAX,
    Priority,
    is_control,
)
from domain.trash import KEPT_FOR
from domain.types import MAX_TASK_ID
from domain.users import USER_ID_MAX

Schema = dict[str, Any]

PRIORITIES: Final = [p.value for p in Priority]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def _char_class(chars: Iterable[str]) -> str:
    """A regex character class body (ranges of \\uXXXX escapes) for `chars`, all in the BMP."""
    codes = sorted({ord(c) for c in chars})
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(f"\\u{a:04X}" if a == b else f"\\u{a:04X}-\\u{b:04X}" for a, b in ranges)


@functools.cache
def _patterns() -> dict[str, str]:
    """The patterns of SPEC's text rules, derived from the same predicates the service applies."""
    bmp = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    # What str.strip() removes, and the controls SPEC forbids; every such character is in the BMP.
    space = _char_class(c for c in bmp if c.isspace())
    control = _char_class(c for c in bmp if is_control(c))
    # Controls other than tab, line feed and carriage return.
    bad_text = _char_class(c for c in bmp if is_control(c) and c not in "\t\n\r")
    ends = f"[^{space}{control}]"
    date = r"(?!0000-|0001-01-01|9999-12-31)[0-9]{4}-[0-9]{2}-[0-9]{2}"
    # Letters and decimal digits; U+0130 is a letter whose lower case is not one.
    tag_char = r"[\p{L}\p{Nd}_-]"
    tag_inner = r"[\p{L}\p{Nd}_ -]"
    tag = f"[{space}]*{tag_char}(?:{tag_inner}{{0,{TAG_MAX - 2}}}{tag_char})?[{space}]*"
    label = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?"
    local = f'[^{space}{control}@"(),:;<>\\[\\]\\\\]{{1,64}}'
    return {
        "title": f"^[{space}]*{ends}(?:[^{control}]{{0,{TITLE_MAX - 2}}}{ends})?[{space}]*$",
        "list_name": (
            f"^[{space}]*{ends}(?:[^{control}]{{0,{LIST_NAME_MAX - 2}}}{ends})?[{space}]*$"
        ),
        "text": f"^[^{bad_text}]*$",
        "name": f"^[{space}]*(?:{ends}(?:[^{control}]{{0,{NAME_MAX - 2}}}{ends})?)?[{space}]*$",
        "date": f"^{date}$",
        "datetime": (
            f"^{date}[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
            r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
        ),
        "tag": f"^(?![^\\u0130]*\\u0130){tag}$",
        # At most TAGS_MAX items: fewer than that many commas.
        "tags": f"^(?![^\\u0130]*\\u0130)(?!(?:[^,]*,){{{TAGS_MAX}}}){tag}(?:,{tag})*$",
        "priorities": f"^(?:{'|'.join(PRIORITIES)})(?:,(?:{'|'.join(PRIORITIES)}))*$",
        "email": (
            f"^[{space}]*(?=[^{space}]{{1,{EMAIL_MAX}}}[{space}]*$)"
            f"{local}@{label}(?:\\.{label})+[{space}]*$"
        ),
        "token_name": (
            f"^[{space}]*{ends}(?:[^{control}]{{0,{TOKEN_NAME_MAX - 2}}}{ends})?[{space}]*$"
        ),
        "key": f"^[A-Za-z0-9_.:-]{{1,{KEY_MAX}}}$",
        "request_id": r"^[A-Za-z0-9._:/+=@-]{1,128}$",
    }


_UTC = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z$",
}
_TASK_ID = {"type": "integer", "minimum": 1, "maximum": MAX_TASK_ID}


def _writable() -> Schema:
    pattern = _patterns()
    return {
        "title": {
            "type": "string",
            "pattern": pattern["title"],
            "description": f"Trimmed, then 1–{TITLE_MAX} characters without control characters.",
        },
        "description": _nullable(
            {
                "type": "string",
                "maxLength": DESCRIPTION_MAX,
                "pattern": pattern["text"],
                "description": "Tab, CR and LF are the only control characters allowed; "
                '`""` is stored as null.',
            }
        ),
        "completed": {"type": "boolean"},
        "priority": {"type": "string", "enum": PRIORITIES},
        "due_date": _nullable(
            {
                "type": "string",
                "format": "date",
                "pattern": pattern["date"],
                "description": "An all-day date, 0001-01-02 to 9999-12-30.",
            }
        ),
        "due_at": _nullable(
            {
                "type": "string",
                "format": "date-time",
                "pattern": pattern["datetime"],
                "description": "RFC 3339 with an offset (no leap second), on a day from "
                "0001-01-02 to 9999-12-30; returned in UTC. Setting it clears due_date.",
            }
        ),
        "tags": {
            "type": "array",
            "maxItems": TAGS_MAX,
            "items": {
                "type": "string",
                "pattern": pattern["tag"],
                "description": f"Trimmed and lower-cased, then 1–{TAG_MAX} letters, digits, "
                "spaces, `-` or `_`.",
            },
            "description": "Duplicates (after lower-casing) are dropped, first order kept.",
        },
    }


_IGNORED: Final[Schema] = {
    field.name: {"description": "Read-only; sent back by a client, it is ignored."}
    for field in TASK_FIELDS
    if not field.writable and field.name not in PLACEMENT_FIELDS
}
# Where a new task goes; afterwards only POST …/tasks/{id}/move changes it.
_PLACED: Final[Schema] = {
    "list_id": {
        **_TASK_ID,
        "description": "The list to create the task in (you must be its editor or owner); "
        "default: your default list.",
    },
    "parent_id": _nullable(
        {
            **_TASK_ID,
            "description": "A top-level task of the same list to make this one a subtask of.",
        }
    ),
}
_REFUSED: Final[Schema] = {
    name: {
        "not": {},
        "description": "Set on create and changed only by POST /api/{user_id}/tasks/{id}/move: "
        "sent here it is a 422.",
    }
    for name in PLACEMENT_FIELDS
}
# Both due forms in one body are refused; one of them may be null.
_ONE_DUE: Final[Schema] = {
    "not": {
        "required": ["due_date", "due_at"],
        "properties": {"due_date": {"type": "string"}, "due_at": {"type": "string"}},
    }
}


def _task() -> Schema:
    properties: Schema = {
        "id": _TASK_ID,
        "user_id": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
        "description": _nullable({"type": "string", "minLength": 1, "maxLength": DESCRIPTION_MAX}),
        "completed": {"type": "boolean"},
        "completed_at": _nullable(_UTC),
        "priority": {"type": "string", "enum": PRIORITIES},
        "due_date": _nullable({"type": "string", "format": "date"}),
        "due_at": _nullable(_UTC),
        "tags": {
            "type": "array",
            "maxItems": TAGS_MAX,
            "uniqueItems": True,
            "items": {"type": "string", "minLength": 1, "maxLength": TAG_MAX},
        },
        "version": {"type": "integer", "minimum": 1},
        "created_at": _UTC,
        "updated_at": _UTC,
        "list_id": {**_TASK_ID, "description": "The list the task is in."},
        "parent_id": _nullable(
            {**_TASK_ID, "description": "The task this one is a subtask of; null at the top."}
        ),
        "position": {
            "type": "string",
            "minLength": 1,
            "description": "Opaque: the tasks of one list and one parent sort by it ascending "
            "(as bytes).",
        },
        "created_by": {
            "type": "string",
            "minLength": 1,
            "description": "The id of the user who created the task.",
        },
    }
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _task_body(*, title_required: bool, description: str, creates: bool = False) -> Schema:
    # A create may say where the task goes; a replace or patch may not.
    placement = _PLACED if creates else _REFUSED
    schema: Schema = {
        "type": "object",
        "properties": {**_writable(), **_IGNORED, **placement},
        "additionalProperties": False,
        "description": description,
        **_ONE_DUE,
    }
    if title_required:
        schema["required"] = ["title"]
    return schema


def _schemas(plain: bool) -> dict[str, Schema]:
    pattern = _patterns()
    schemas = {
        "Task": _task(),
        "TaskCreate": _task_body(
            title_required=True,
            creates=True,
            description="Read-only fields are accepted and ignored; any other unknown field is a 422.",
        ),
        "TaskReplace": _task_body(
            title_required=True,
            description="Fields left out keep their value; null clears a nullable field.",
        ),
        "TaskPatch": _task_body(
            title_required=False,
            description="A JSON merge patch: null clears description, due_date and due_at.",
        ),
        "Completion": {
            "type": "object",
            "properties": {"completed": {"type": "boolean"}},
            "additionalProperties": False,
            "description": "`completed` sets the state (a repeat changes nothing); no body, "
            "an empty body or `{}` toggles it.",
        },
        **_batch_schemas(),
        "FieldError": {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
            "required": ["field", "code", "message"],
            "additionalProperties": False,
        },
        "Error": _error(plain),
        "ListMeta": {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                "next_cursor": _nullable({"type": "string", "minLength": 1}),
                "counts": {
                    **ref("Counts"),
                    "description": "The counts of the lists in scope (every list the user "
                    "belongs to, or `list`), unfiltered.",
                },
            },
            "required": ["limit", "next_cursor", "counts"],
            "additionalProperties": False,
        },
        "Change": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": [k.value for k in Kind]},
                "id": _TASK_ID,
                "op": {"type": "string", "enum": [o.value for o in Op]},
                "data": {
                    "anyOf": [ref("Task"), ref("List"), {"type": "null"}],
                    "description": "For an upsert, the task or list as its routes show it now; "
                    "null for a delete.",
                },
            },
            "required": ["kind", "id", "op", "data"],
            "additionalProperties": False,
        },
        "FeedMeta": {
            "type": "object",
            "properties": {
                "cursor": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Where the next request continues (`since`); keep it "
                    "after the last page too, to ask later what changed since.",
                },
                "has_more": {"type": "boolean"},
            },
            "required": ["cursor", "has_more"],
            "additionalProperties": False,
        },
        "User": _user(),
        "Session": {
            "type": "object",
            "properties": {
                "user": ref("User"),
                "token": {"type": "string", "minLength": 1},
                "expires_at": _UTC,
            },
            "required": ["user", "token", "expires_at"],
            "additionalProperties": False,
        },
        "SignUp": {
            "type": "object",
            "properties": {
                "email": {
                    "type": "string",
                    "pattern": pattern["email"],
                    "description": f"Trimmed, then an address of at most {EMAIL_MAX} characters, "
                    "also in lower case: a local part, `@`, and a dotted domain of letters, digits "
                    "and hyphens.",
                },
                "password": {
                    "type": "string",
                    "minLength": PASSWORD_MIN,
                    "maxLength": PASSWORD_MAX,
                },
                "name": _nullable(
                    {
                        "type": "string",
                        "pattern": pattern["name"],
                        "description": f"Trimmed, then at most {NAME_MAX} characters without "
                        "control characters; blank means none.",
                    }
                ),
            },
            "required": ["email", "password"],
            "additionalProperties": False,
        },
        "SignIn": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "minLength": 1},
                "password": {"type": "string", "minLength": 1},
            },
            "required": ["email", "password"],
            "additionalProperties": False,
        },
        "Probe": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["ok", "ready"]}},
            "required": ["status"],
            "additionalProperties": False,
        },
        **_identity_schemas(),
    }
    schemas.update(_list_schemas())
    schemas.update(_trash_schemas())
    if plain:
        # Paging and counts travel in headers there.
        del schemas["ListMeta"]
        del schemas["TrashMeta"]
    return schemas


def _trash_schemas() -> dict[str, Schema]:
    # SPEC §8: a deleted task as the trash shows it, a page's meta, what emptying did.
    trashed = _task()
    trashed["properties"] |= {
        "deleted_at": {**_UTC, "description": "When the task was deleted."},
        "deleted_by": {
            "type": "string",
            "minLength": 1,
            "description": "The id of the user who deleted it (or its list).",
        },
    }
    trashed["required"] = list(trashed["properties"])
    trashed["description"] = (
        "A deleted task as it was, with the subtasks deleted with it kept beside it; kept "
        f"{KEPT_FOR.days} days."
    )
    return {
        "TrashedTask": trashed,
        "TrashMeta": {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                "next_cursor": _nullable({"type": "string", "minLength": 1}),
            },
            "required": ["limit", "next_cursor"],
            "additionalProperties": False,
        },
        "Emptied": {
            "type": "object",
            "properties": {"deleted": {"type": "integer", "minimum": 0}},
            "required": ["deleted"],
            "additionalProperties": False,
        },
    }


def _trash_page(plain: bool) -> Schema:
    items = {"type": "array", "items": ref("TrashedTask")}
    description = "A page of the trash, most recently deleted first."
    if plain:
        return _ok(plain, 200, description, items, "Link")
    page = _ok(plain, 200, description, items)
    schema = page["200"]["content"]["application/json"]["schema"]
    schema["properties"]["meta"] = ref("TrashMeta")
    schema["required"].append("meta")
    return page


def _trash_paths(plain: bool) -> dict[str, Schema]:
    trashed = ref("TrashedTask")
    seen = (
        "The trash you see: that of the lists you edit or own, and of your own lists that are "
        "gone (deleted lists leave their tasks to their owner's trash)."
    )
    entry_rules = (
        "An entry of the trash you cannot see is answered as a missing one (404); a viewer of "
        "its list gets a 403."
    )
    return {
        "/api/{user_id}/trash": {
            "parameters": _use("UserId", "XRequestId"),
            "get": {
                "operationId": "listTrash",
                "summary": "Deleted tasks, most recently deleted first",
                "description": f"{seen} Subtasks deleted with their parent come back with it "
                "and are not listed apart. Paging is keyset-based"
                + ("; the next page is in `Link`." if plain else "."),
                "security": _AUTH,
                "parameters": [
                    _param(
                        "limit",
                        "query",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": LIMIT_MAX,
                            "default": LIMIT_DEFAULT,
                        },
                        "Page size (over the maximum is a 422, never a silent cap).",
                    ),
                    _param(
                        "cursor",
                        "query",
                        {"type": "string", "minLength": 1},
                        "`meta.next_cursor` of the previous page, sealed for you (else 422).",
                    ),
                ],
                "responses": {**_trash_page(plain), **_errors(401, 403, 422)},
            },
            "delete": {
                "operationId": "emptyTrash",
                "summary": "Empty the trash: delete for good every task in it you see",
                "description": seen,
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "How many tasks were deleted for good.", ref("Emptied")),
                    **_errors(401, 403, 422),
                },
            },
        },
        "/api/{user_id}/trash/{id}": {
            "parameters": _use("UserId", "TaskId", "XRequestId"),
            "delete": {
                "operationId": "purgeTrashedTask",
                "summary": "Delete a task in the trash for good, with its subtasks",
                "description": entry_rules,
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The task as it was in the trash.", trashed),
                    **_errors(401, 403, 404, 422),
                },
            },
        },
        "/api/{user_id}/trash/{id}/restore": {
            "parameters": _use("UserId", "TaskId", "XRequestId"),
            "post": {
                "operationId": "restoreTask",
                "summary": "Restore a deleted task, with the subtasks deleted with it",
                "description": "Back to the end of its siblings in its list, or of your default "
                "list when its list is gone; a subtask whose parent is not there comes back "
                f"top-level. {entry_rules}",
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The restored task.", ref("Task"), "ETag"),
                    **_errors(401, 403, 404, 412, 422),
                },
            },
        },
    }


def _batch_schemas() -> dict[str, Schema]:
    # SPEC §8: each operation is one of the single routes, its `data` that route's body.
    version = {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_TASK_ID,
        "description": "Apply only if the task is at this version (what its ETag quotes); "
        "else the batch is a 412 naming this operation.",
    }
    task_id = {**_TASK_ID, "description": "The task to act on."}

    def operation(kind: str, text: str, properties: Schema, *optional: str) -> Schema:
        return _object(
            {"op": {"type": "string", "const": kind}, **properties}, *optional, description=text
        )

    return {
        "BatchOperation": {
            "oneOf": [
                operation("create", "As POST /api/{user_id}/tasks.", {"data": ref("TaskCreate")}),
                operation(
                    "update",
                    "As PATCH /api/{user_id}/tasks/{id} (a merge patch; no data changes nothing).",
                    {"id": task_id, "data": ref("TaskPatch"), "if_match": version},
                    "data",
                    "if_match",
                ),
                operation(
                    "complete",
                    "As PATCH /api/{user_id}/tasks/{id}/complete: no data or `{}` toggles.",
                    {"id": task_id, "data": ref("Completion"), "if_match": version},
                    "data",
                    "if_match",
                ),
                operation(
                    "delete",
                    "As DELETE /api/{user_id}/tasks/{id}.",
                    {"id": task_id, "if_match": version},
                    "if_match",
                ),
            ],
        },
        "Batch": _object(
            {
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": BATCH_MAX,
                    "items": ref("BatchOperation"),
                }
            },
            description=f"1–{BATCH_MAX} operations, applied in order in one transaction; each "
            "sees what the earlier ones did.",
        ),
    }


_ROLE: Final = {"type": "string", "enum": [role.value for role in Role]}
_GRANTABLE: Final = {
    "type": "string",
    "enum": [role.value for role in GRANTABLE_ROLES],
    "description": "A list has one owner, its maker: a member is an editor or a viewer.",
}


def _object(properties: Schema, *optional: str, **more: Any) -> Schema:
    """A closed object whose properties are all required but `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
        **more,
    }


def _list_schemas() -> dict[str, Schema]:
    # SPEC §7: the list as its member sees it, invites, members, and a task's move.
    user_id = {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX}
    invite: Schema = {
        "list_id": _TASK_ID,
        "role": _GRANTABLE,
        "expires_at": _UTC,
        "created_at": _UTC,
        "created_by": user_id,
    }
    lifetimes = (INVITE_LIFETIME_MIN, INVITE_LIFETIME, INVITE_LIFETIME_MAX)
    shortest, default, longest = (int(t.total_seconds()) for t in lifetimes)
    return {
        "Counts": _object(
            {
                "pending": {"type": "integer", "minimum": 0},
                "completed": {"type": "integer", "minimum": 0},
            }
        ),
        "List": _object(
            {
                "id": _TASK_ID,
                "owner_id": user_id,
                "name": {"type": "string", "minLength": 1, "maxLength": LIST_NAME_MAX},
                "is_default": {
                    "type": "boolean",
                    "description": "The owner's default list: renamed, never deleted or shared.",
                },
                "version": {"type": "integer", "minimum": 1},
                "created_at": _UTC,
                "updated_at": _UTC,
                "role": {**_ROLE, "description": "Your role in the list."},
                "members": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "How many people share the list, the owner included.",
                },
                "counts": {
                    **ref("Counts"),
                    "description": "Its pending and completed tasks, subtasks included.",
                },
            }
        ),
        "ListName": _object(
            {
                "name": {
                    "type": "string",
                    "pattern": _patterns()["list_name"],
                    "description": f"Trimmed, then 1–{LIST_NAME_MAX} characters without "
                    "control characters.",
                }
            },
        ),
        "InviteCreate": _object(
            {
                "role": _GRANTABLE,
                "expires_in": {
                    "type": "integer",
                    "minimum": shortest,
                    "maximum": longest,
                    "default": default,
                    "description": "Seconds until the invite expires.",
                },
            },
            "expires_in",
        ),
        "Invite": _object(
            invite, description="An open invite: never its code, which only its maker holds."
        ),
        "NewInvite": _object(
            {
                "code": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Shown this once (only its hash is kept): pass it on to the "
                    "person to invite, who accepts it; the owner withdraws the invite with it.",
                },
                **invite,
            }
        ),
        "Member": _object(
            {
                "user_id": user_id,
                "name": _nullable({"type": "string"}),
                "email": {
                    **_nullable({"type": "string"}),
                    "description": "Only to the list's owner.",
                },
                "role": _ROLE,
                "joined_at": _UTC,
            },
            "email",
        ),
        "MemberRole": _object({"role": _GRANTABLE}),
        "Move": _object(
            {
                "list_id": {
                    **_TASK_ID,
                    "description": "The list to move to (you must edit both); default: the "
                    "task's own.",
                },
                "parent_id": _nullable(
                    {
                        **_TASK_ID,
                        "description": "A top-level task of the destination list to move under "
                        "(a task with subtasks cannot become one); null: the top level. "
                        "Default: the parent it has, or the top level in another list.",
                    }
                ),
                "after": _nullable(
                    {
                        **_TASK_ID,
                        "description": "The sibling at the destination to follow; null: first. "
                        "Default: where it is when list and parent stay, else last.",
                    }
                ),
            },
            "list_id",
            "parent_id",
            "after",
            description="Subtasks travel with their parent. `{}` moves nothing.",
        ),
    }


def _identity_schemas() -> dict[str, Schema]:
    scopes = {
        "type": "array",
        "items": {"type": "string", "enum": [scope.value for scope in Scope]},
        "minItems": 1,
        "description": "`tasks:read` reads tasks; `tasks:write` may also create, change, "
        "complete and delete them.",
    }
    token: Schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "name": {"type": "string", "minLength": 1, "maxLength": TOKEN_NAME_MAX},
            "scopes": {**scopes, "uniqueItems": True},
            "created_at": _UTC,
            "expires_at": _UTC,
        },
        "required": ["id", "name", "scopes", "created_at", "expires_at"],
        "additionalProperties": False,
    }
    new_token = {
        **token,
        "properties": {
            **token["properties"],
            "token": {
                "type": "string",
                "pattern": "^tsk_[A-Za-z0-9]{40}$",
                "description": "The secret, shown this once: only its SHA-256 is kept.",
            },
        },
        "required": [*token["required"], "token"],
    }
    return {
        "TokenCreate": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": _patterns()["token_name"]},
                "scopes": scopes,
                "expires_in": {
                    "type": "integer",
                    "minimum": EXPIRES_IN_MIN,
                    "maximum": EXPIRES_IN_MAX,
                    "description": "Seconds until the token expires; 30 days when left out.",
                },
            },
            "required": ["name", "scopes"],
            "additionalProperties": False,
        },
        "PersonalToken": token,
        "NewPersonalToken": new_token,
        "PasswordChange": {
            "type": "object",
            "properties": {
                "current": {"type": "string", "minLength": 1},
                "new": {"type": "string", "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX},
            },
            "required": ["current", "new"],
            "additionalProperties": False,
        },
        "AccountDeletion": {
            "type": "object",
            "properties": {"password": {"type": "string", "minLength": 1}},
            "additionalProperties": False,
            "description": "A local account sends its password. One without a password sends "
            "`{}` (or nothing) with a token issued in the last ten minutes: a fresh sign-in.",
        },
        "SignedOutEverywhere": {
            "type": "object",
            "properties": {"ended_before": _UTC},
            "required": ["ended_before"],
            "additionalProperties": False,
        },
        "Export": {
            "type": "object",
            "description": "Everything of the account's, a key per kind of data.",
            "properties": {
                "format": {"type": "string", "enum": ["taskservice-export/1"]},
                "exported_at": _UTC,
                "account": _exported_account(),
                "personal_tokens": {"type": "array", "items": ref("PersonalToken")},
                "lists": {"type": "array", "items": ref("List")},
                "memberships": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "list_id": _TASK_ID,
                            "user_id": {"type": "string", "minLength": 1},
                            "role": {"type": "string", "enum": [role.value for role in Role]},
                            "joined_at": _UTC,
                        },
                        "required": ["list_id", "user_id", "role", "joined_at"],
                        "additionalProperties": False,
                    },
                },
                "tasks": {"type": "array", "items": ref("Task")},
                "trash": {
                    "type": "array",
                    "items": ref("TrashedTask"),
                    "description": "The deleted tasks of the lists you own or owned, subtasks "
                    "deleted with their parent included, most recently deleted first.",
                },
            },
            "required": [
                "format",
                "exported_at",
                "account",
                "personal_tokens",
                "lists",
                "memberships",
                "tasks",
                "trash",
            ],
            "additionalProperties": False,
        },
    }


def _error(plain: bool) -> Schema:
    code = {"type": "string", "enum": [code.value for code in ErrorCode]}
    message = {"type": "string", "minLength": 1}
    details = {"type": "array", "minItems": 1, "items": ref("FieldError")}
    if plain:
        detail = {
            **message,
            "description": "A sentence to show people; on a validation failure the messages "
            "of the broken rules.",
        }
        properties: Schema = {"detail": detail, "error": code, "details": details}
    else:
        properties = {"data": {"type": "null"}, "error": code, "message": message}
        properties["details"] = details
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name != "details"],
        "additionalProperties": False,
    }


def _page_headers() -> dict[str, Schema]:
    count = {"type": "string", "pattern": "^(?:0|[1-9][0-9]*)$"}
    described = dict(
        zip(
            PAGE_COUNT_HEADERS,
            (
                "How many tasks the lists in scope hold (every list the user belongs to, or "
                "`list`), unfiltered (pending + completed), not the filtered list's length: "
                "counting that would cost a page its constant price.",
                "How many of the tasks in the lists in scope are pending, unfiltered.",
                "How many of the tasks in the lists in scope are completed, unfiltered.",
            ),
            strict=True,
        )
    )
    headers: dict[str, Schema] = {
        "Link": {
            "description": 'The next page, absolute, as `<url>; rel="next"`: this request\'s '
            "query with the next cursor. Absent on the last page.",
            "schema": {"type": "string", "pattern": '^<https?://[^>]+>; rel="next"$'},
        }
    }
    for name, text in described.items():
        headers[name] = {"description": text, "required": True, "schema": count}
    return headers


def _feed_headers() -> dict[str, Schema]:
    cursor, has_more = FEED_HEADERS
    return {
        cursor: {
            "description": "Where the next request continues (`since`), also after the last page.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
        has_more: {
            "description": "Whether more entries wait now (then `Link` names the next page).",
            "required": True,
            "schema": {"type": "string", "enum": ["true", "false"]},
        },
    }


def _headers(plain: bool) -> dict[str, Schema]:
    return {
        **(_page_headers() | _feed_headers() if plain else {}),
        "ETag": {
            "description": 'The version of the task or list as a strong tag, `"<version>"`.',
            "required": True,
            "schema": {"type": "string", "pattern": r'^"[1-9][0-9]*"$'},
        },
        "PageETag": {
            "description": "A weak tag of the page: it changes whenever anything in its scope "
            "(its lists, their tasks, counts and members, your memberships) changes, and only "
            "then; send it back in If-None-Match to get 304 while it holds.",
            "required": True,
            "schema": {"type": "string", "pattern": r'^W/"[0-9a-f]{32}"$'},
        },
        "Location": {
            "description": "The path of the created task or list, under your own user id.",
            "required": True,
            "schema": {"type": "string", "pattern": r"^/api/[^/]+/(?:tasks|lists)/[1-9][0-9]*$"},
        },
        "Retry-After": {
            "description": "Seconds to wait before retrying.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        },
        "WWW-Authenticate": {
            "description": 'The bearer challenge: `Bearer`, or `Bearer error="invalid_token"`.',
            "required": True,
            "schema": {"type": "string", "pattern": "^Bearer"},
        },
        "Allow": {
            "description": "The methods this path allows.",
            "required": True,
            "schema": {"type": "string"},
        },
        "X-Request-ID": {
            "description": "The request id: the client's when it sent a sane one, else generated.",
            "required": True,
            "schema": {"type": "string", "pattern": _patterns()["request_id"]},
        },
        "Cache-Control": {
            "description": "`no-store` on every /api response, which may carry user data.",
            "required": True,
            "schema": {"type": "string", "enum": ["no-store"]},
        },
        "Content-Disposition": {
            "description": "`attachment`, with the name to save the file under.",
            "required": True,
            "schema": {"type": "string", "pattern": "^attachment; filename="},
        },
        "Idempotent-Replayed": {
            "description": "`true` when this answer replays an earlier request with the same key.",
            "schema": {"type": "string", "enum": ["true"]},
        },
    }


_ERRORS: Final = {
    "400": ("BadRequest", "The body is not a JSON object in UTF-8, or is nested too deeply.", ()),
    "401": ("Unauthorized", "The bearer token is missing or invalid.", ("WWW-Authenticate",)),
    "403": (
        "Forbidden",
        "The path's user is not the token's user, the token's scopes do not allow this, your role "
        "in the list does not allow this, or it needs a sign-in token, a password or a fresh "
        "sign-in.",
        (),
    ),
    "404": (
        "NotFound",
        "No such route, task, list, member or invite; a task or list you cannot see answers "
        "exactly the same.",
        (),
    ),
    "405": ("MethodNotAllowed", "The method is not allowed on this path.", ("Allow",)),
    "409": ("Conflict", "The request conflicts with the current state.", ()),
    "410": (
        "SyncExpired",
        "`since` is older than the change history kept (SYNC_EXPIRED): sync in full, without it.",
        (),
    ),
    "412": ("PreconditionFailed", "If-Match does not match the current ETag.", ()),
    "413": ("PayloadTooLarge", f"The body is over {MAX_BODY // 1024} KiB.", ()),
    "415": ("UnsupportedMediaType", "The body is not of a media type this route accepts.", ()),
    "422": (
        "ValidationError",
        "A field, parameter or header breaks a rule (`details` lists every one), or an "
        "Idempotency-Key comes back with another body (IDEMPOTENCY_KEY_REUSED).",
        (),
    ),
    "429": ("RateLimited", "Too many attempts.", ("Retry-After",)),
    "500": ("InternalError", "A bug; the log has the request id.", ()),
    "503": (
        "ServiceUnavailable",
        "The database is unreachable or the pool is exhausted.",
        ("Retry-After",),
    ),
}


_HEADER_OF: Final = {"PageETag": "ETag"}
"""Header components named otherwise than the header they describe (a page's weak ETag)."""


def _response_headers(*names: str, api: bool = True) -> Schema:
    always = ("X-Request-ID", "Cache-Control") if api else ("X-Request-ID",)
    return {
        _HEADER_OF.get(name, name): {"$ref": f"#/components/headers/{name}"}
        for name in (*always, *names)
    }


def _error_responses() -> dict[str, Schema]:
    return {
        name: {
            "description": text,
            "headers": _response_headers(*headers),
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for name, text, headers in _ERRORS.values()
    }


def _errors(*statuses: int) -> dict[str, Schema]:
    codes = {*statuses, 500, 503}
    return {str(s): {"$ref": f"#/components/responses/{_ERRORS[str(s)][0]}"} for s in sorted(codes)}


def _envelope(data: Schema, *, meta: bool = False, meta_schema: str = "ListMeta") -> Schema:
    properties: Schema = {
        "data": data,
        "error": {"type": "null"},
        "message": {"type": "string", "minLength": 1},
    }
    required = ["data", "error", "message"]
    if meta:
        properties["meta"] = ref(meta_schema)
        required.append("meta")
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _ok(
    plain: bool,
    status: int,
    description: str,
    data: Schema,
    *headers: str,
    meta: bool = False,
    api: bool = True,
) -> Schema:
    if plain and meta:
        headers = (*headers, "Link", *PAGE_COUNT_HEADERS)
    return {
        str(status): {
            "description": description,
            "headers": _response_headers(*headers, api=api),
            "content": {
                "application/json": {"schema": data if plain else _envelope(data, meta=meta)}
            },
        }
    }


def _if_none_match_page() -> Schema:
    # Inline where the task list's parameters are read one by one (its clients' names).
    return _param(
        "If-None-Match",
        "header",
        {"type": "string"},
        "Answer 304, without reading the page, if it is still at one of these ETags (the weak "
        "tag a full answer carried; `*`: any).",
    )


def _not_modified() -> Schema:
    return {
        "304": {
            "description": "Nothing in the page's scope changed since the tag sent.",
            "headers": _response_headers("PageETag"),
        }
    }


def _user() -> Schema:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "email": _nullable({"type": "string"}),
            "name": _nullable({"type": "string"}),
            "created_at": _UTC,
        },
        "required": ["id", "email", "name", "created_at"],
        "additionalProperties": False,
    }


def _exported_account() -> Schema:
    # The user as /api/auth/me shows them, and what signs them in.
    account = _user()
    identity = _object({"issuer": {"type": "string"}, "subject": {"type": "string"}})
    account["properties"] |= {
        "has_password": {"type": "boolean"},
        "identities": {"type": "array", "items": identity},
    }
    account["required"] = list(account["properties"])
    return account


def _body(schema: str, *media_types: str, required: bool = True) -> Schema:
    return {
        "required": required,
        "content": {m: {"schema": ref(schema)} for m in (media_types or ("application/json",))},
    }


def _param(
    name: str, where: str, schema: Schema, description: str, *, required: bool = False
) -> Schema:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": schema,
        "description": description,
    }


def _parameters() -> dict[str, Schema]:
    pattern = _patterns()
    # Any value is read: entity tags that do not parse simply match nothing.
    etags = {"type": "string"}
    return {
        "UserId": _param(
            "user_id",
            "path",
            {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX},
            "The token's user (`sub`); any other user is 403.",
            required=True,
        ),
        "TaskId": _param("id", "path", _TASK_ID, "The task id.", required=True),
        "ListId": _param("id", "path", _TASK_ID, "The list id.", required=True),
        "InviteCode": _param(
            "code",
            "path",
            {"type": "string", "minLength": 1},
            "The code the invite's maker was given (an unknown, used or expired one is a 404).",
            required=True,
        ),
        "MemberId": _param(
            "member_id",
            "path",
            {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX},
            "The member's user id.",
            required=True,
        ),
        "IfMatch": _param(
            "If-Match",
            "header",
            etags,
            'Apply only if the task (or list) is at one of these ETags, e.g. `"3"` (`*`: any); '
            "else 412.",
        ),
        "IfNoneMatch": _param(
            "If-None-Match",
            "header",
            etags,
            "Answer 304 if the task is still at one of these ETags (`*`: any; weak tags match).",
        ),
        "IfNoneMatchPage": _if_none_match_page(),
        "IdempotencyKey": _param(
            "Idempotency-Key",
            "header",
            {"type": "string", "pattern": pattern["key"]},
            "Makes the request safe to retry: the same key and body within 24 h get the "
            "first answer again (with `Idempotent-Replayed: true`) and change nothing; the "
            "same key with another body, or on another task or route, is a 422 "
            "IDEMPOTENCY_KEY_REUSED. Keys are per user.",
        ),
        "XRequestId": _param(
            "X-Request-ID",
            "header",
            {"type": "string"},
            "Echoed in the answer when it is 1–128 characters of A–Z, a–z, 0–9 and `._:/+=@-`.",
        ),
    }


def _use(*names: str) -> list[Schema]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def list_parameters(plain: bool = False) -> list[Schema]:
    """The query parameters of the task list, with the frontends' names in the plain style."""
    pattern = _patterns()
    native = [
        _param(
            "list",
            "query",
            _TASK_ID,
            "Only the tasks of this list (a list you do not belong to is a 404).",
        ),
        _param(
            "parent",
            "query",
            {"anyOf": [_TASK_ID, {"type": "string", "enum": [Parent.NONE.value]}]},
            "`none`: top-level tasks only; a task's id: its subtasks only (a task you cannot "
            "see is a 404).",
        ),
        _param(
            "status",
            "query",
            {
                "type": "string",
                "enum": [status.value for status in Status],
                "default": TaskFilter().status.value,
            },
            "Filter by completion.",
        ),
        _param(
            "q",
            "query",
            {
                "type": "string",
                "minLength": 1,
                "maxLength": TEXT_MAX,
                "pattern": pattern["text"],
            },
            "Case-insensitive (Unicode case folding) substring of the title or description.",
        ),
        _param(
            "priority",
            "query",
            {"type": "string", "pattern": pattern["priorities"]},
            "Comma-separated priorities; a task matches any of them.",
        ),
        _param(
            "tag",
            "query",
            {"type": "string", "pattern": pattern["tags"]},
            f"Comma-separated tags (at most {TAGS_MAX}, compared lower-cased); a task matches "
            "if it has any of them.",
        ),
        _param(
            "due",
            "query",
            {"type": "string", "enum": [d.value for d in Due]},
            "`overdue` (pending, and due_at before now or due_date before today), `today`, "
            "`next_7_days` (today and the 6 days after it), `none` (no due), `any` (has a due); "
            "days are calendar days in `tz`.",
        ),
        _param(
            "tz",
            "query",
            {"type": "string", "enum": sorted(time_zones()), "default": "UTC"},
            "The IANA zone whose calendar days `due` and the `due` sort use.",
        ),
        _param(
            "limit",
            "query",
            {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
            "Page size (over the maximum is a 422, never a silent cap).",
        ),
        _param(
            "cursor",
            "query",
            {"type": "string", "minLength": 1},
            "`meta.next_cursor` of the previous page, sealed: valid only for the same user, "
            "`list`, `parent`, filters, `tz` and sort (else 422); `limit` may change.",
        ),
    ]
    return native + (_frontend_parameters() if plain else [_native_sort()])


_POSITION: Final = (
    "`position` is the manual order of one list (only with `list`, else a 422): siblings by "
    "position, each parent followed by its subtasks."
)


def _native_sort() -> Schema:
    return _param(
        "sort",
        "query",
        {"type": "string", "enum": list(SORTS), "default": str(Sort())},
        "Order; `-` for descending; `id` breaks ties in the same direction. `priority` "
        "ranks none < low < medium < high; `due` orders by due_at, or due_date at the "
        f"start of its day in `tz`, with tasks without a due last in both directions. {_POSITION}",
    )


def _frontend_parameters() -> list[Schema]:
    # SPEC §11: what frontends written for FastAPI backends send, beside the names above.
    pattern = _patterns()
    return [
        _param(
            "sort",
            "query",
            {"type": "string", "enum": [*FRONTEND_SORTS, *SORTS], "default": str(Sort())},
            "A frontend's `created`, `title`, `due_date` (= `due`) or `priority`, or an order "
            "of the envelope style (`-` for descending). `order` gives the direction; without "
            "it `created` is newest first (the default list) and every other unsigned name "
            "ascending (`priority`: none < low < medium < high). A `-` with `order` is a 422. "
            "`id` breaks ties; tasks without a due come last in both directions. " + _POSITION,
        ),
        _param(
            "order",
            "query",
            {"type": "string", "enum": list(ORDERS)},
            "The direction of `sort` (alone: of `created`).",
        ),
        _param(
            "search",
            "query",
            {"type": "string", "maxLength": TEXT_MAX, "pattern": pattern["text"]},
            "`q` under a frontend's name (empty: no search); both together are a 422.",
        ),
        _param(
            "completed",
            "query",
            {"type": "string", "enum": list(COMPLETIONS)},
            "`true` = `status=completed`, `false` = `status=pending`; with `status` a 422.",
        ),
    ]


_AUTH: Final[list[dict[str, list[str]]]] = [{"bearer": []}]


def _id_links(plain: bool, operations: tuple[tuple[str, str], ...]) -> Schema:
    """Links from a created resource to `operations` (link name, operationId) on its id."""
    created_id = "$response.body#/id" if plain else "$response.body#/data/id"
    return {
        name: {
            "operationId": operation,
            "parameters": {"user_id": "$request.path.user_id", "id": created_id},
        }
        for name, operation in operations
    }


def _task_links(plain: bool) -> Schema:
    return _id_links(
        plain,
        (
            ("GetTask", "getTask"),
            ("ReplaceTask", "replaceTask"),
            ("PatchTask", "patchTask"),
            ("DeleteTask", "deleteTask"),
            ("SetTaskCompletion", "setTaskCompletion"),
            ("MoveTask", "moveTask"),
        ),
    )


def _task_paths(plain: bool) -> dict[str, Schema]:
    task = ref("Task")
    write_errors = _errors(400, 401, 403, 404, 412, 413, 415, 422)
    created = _ok(
        plain,
        201,
        "The created task (or, replayed, the first answer).",
        task,
        "ETag",
        "Location",
        "Idempotent-Replayed",
    )
    created["201"]["links"] = _task_links(plain)
    return {
        "/api/{user_id}/tasks": {
            "parameters": _use("UserId", "XRequestId"),
            "get": {
                "operationId": "listTasks",
                "summary": "List, filter, search, sort and page the user's tasks",
                "description": (
                    "The tasks of every list the user belongs to, or of `list`. Every filter "
                    "must hold. The counts (X-Pending-Count, X-Completed-Count, X-Total-Count) "
                    "are those of the lists in scope, unfiltered; the next page is in `Link`. "
                    "Paging is keyset-based."
                    if plain
                    else "The tasks of every list the user belongs to, or of `list`. Every "
                    "filter must hold. `meta.counts` are those of the lists in scope, "
                    "unfiltered. Paging is keyset-based."
                ),
                "security": _AUTH,
                "parameters": [*list_parameters(plain), _if_none_match_page()],
                "responses": {
                    **_ok(
                        plain,
                        200,
                        "A page of tasks.",
                        {"type": "array", "items": task},
                        "PageETag",
                        meta=True,
                    ),
                    **_not_modified(),
                    **_errors(401, 403, 404, 422),
                },
            },
            "post": {
                "operationId": "createTask",
                "summary": "Create a task at the end of its list (and parent)",
                "description": "In your default list unless `list_id` names a list you edit.",
                "security": _AUTH,
                "parameters": _use("IdempotencyKey"),
                "requestBody": _body("TaskCreate"),
                # 403: a viewer of `list_id`; 404: a list or parent the caller cannot see;
                # 412: the siblings kept changing (respacing lost to other writers).
                "responses": {**created, **_errors(400, 401, 403, 404, 409, 412, 413, 415, 422)},
            },
        },
        "/api/{user_id}/tasks/{id}": {
            "parameters": _use("UserId", "TaskId", "XRequestId"),
            "get": {
                "operationId": "getTask",
                "summary": "Read one task",
                "security": _AUTH,
                "parameters": _use("IfNoneMatch"),
                "responses": {
                    **_ok(plain, 200, "The task.", task, "ETag"),
                    "304": {
                        "description": "The client's copy is current.",
                        "headers": _response_headers("ETag"),
                    },
                    **_errors(401, 403, 404),
                },
            },
            "put": {
                "operationId": "replaceTask",
                "summary": "Update a task: title required, left-out fields keep their value",
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "requestBody": _body("TaskReplace"),
                "responses": {**_ok(plain, 200, "The updated task.", task, "ETag"), **write_errors},
            },
            "patch": {
                "operationId": "patchTask",
                "summary": "Partially update a task (JSON merge patch)",
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "requestBody": _body(
                    "TaskPatch", "application/json", "application/merge-patch+json"
                ),
                "responses": {**_ok(plain, 200, "The updated task.", task, "ETag"), **write_errors},
            },
            "delete": {
                "operationId": "deleteTask",
                "summary": "Delete a task; the answer carries it so a client can offer undo",
                "description": "The task and its subtasks go to the trash (GET "
                "/api/{user_id}/trash), from which they can be restored.",
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "responses": {
                    **_ok(plain, 200, "The deleted task.", task),
                    **_errors(401, 403, 404, 412),
                },
            },
        },
        "/api/{user_id}/tasks/{id}/complete": {
            "parameters": _use("UserId", "TaskId", "XRequestId"),
            "patch": {
                "operationId": "setTaskCompletion",
                "summary": "Set completion, or toggle it without a body",
                "description": "A toggle is safe to retry with If-Match (a replay is a 412) "
                "or with an Idempotency-Key (a replay gets the first answer).",
                "security": _AUTH,
                "parameters": _use("IfMatch", "IdempotencyKey"),
                "requestBody": _body(
                    "Completion", "application/json", "application/merge-patch+json", required=False
                ),
                "responses": {
                    **_ok(
                        plain,
                        200,
                        "The task (or, replayed, the first answer).",
                        task,
                        "ETag",
                        "Idempotent-Replayed",
                    ),
                    **write_errors,
                    **_errors(409),
                },
            },
        },
        "/api/{user_id}/tasks/batch": {
            "parameters": _use("UserId", "XRequestId"),
            "post": {
                "operationId": "applyTaskBatch",
                "summary": "Create, update, complete and delete tasks all together or not at all",
                "description": "Each operation follows the rules of its single route. The first "
                "that fails stops the batch and nothing is applied: the answer is that "
                "operation's error (422, 404, 403 or 412), its `details` naming it by index: "
                "`operations[3].title` for a broken rule, `operations[3]` for a task or list "
                "that is missing or not yours to see (404), a role that does not allow it (403) "
                "or a stale `if_match` (412).",
                "security": _AUTH,
                "parameters": _use("IdempotencyKey"),
                "requestBody": _body("Batch"),
                "responses": {
                    **_ok(
                        plain,
                        200,
                        "One task per operation, in order: the task it produced, for a delete "
                        "the deleted task (or, replayed, the first answer).",
                        {"type": "array", "items": task},
                        "Idempotent-Replayed",
                    ),
                    **write_errors,
                    **_errors(409),
                },
            },
        },
        "/api/{user_id}/tasks/{id}/move": {
            "parameters": _use("UserId", "TaskId", "XRequestId"),
            "post": {
                "operationId": "moveTask",
                "summary": "Move a task to another list, parent or place among its siblings",
                "description": "You must edit the task's list and the destination. A list or "
                "task you cannot see is answered as a missing one (404); a move the rules of "
                "subtasks or siblings refuse is a 422.",
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "requestBody": _body("Move"),
                "responses": {**_ok(plain, 200, "The moved task.", task, "ETag"), **write_errors},
            },
        },
    }


def _list_links(plain: bool) -> Schema:
    return _id_links(
        plain,
        (
            ("GetList", "getList"),
            ("RenameList", "renameList"),
            ("DeleteList", "deleteList"),
            ("ListInvites", "listInvites"),
            ("CreateInvite", "createInvite"),
            ("ListMembers", "listMembers"),
        ),
    )


def _invite_links(plain: bool) -> Schema:
    code = "$response.body#/code" if plain else "$response.body#/data/code"
    user = "$request.path.user_id"
    return {
        "WithdrawInvite": {
            "operationId": "withdrawInvite",
            "parameters": {"user_id": user, "id": "$request.path.id", "code": code},
        },
        "AcceptInvite": {
            "operationId": "acceptInvite",
            "parameters": {"user_id": user, "code": code},
        },
    }


def _list_paths(plain: bool) -> dict[str, Schema]:
    one = ref("List")
    lists = {"type": "array", "items": one}
    owner = "The list's owner only."
    created = _ok(plain, 201, "The new list; you own it.", one, "ETag", "Location")
    created["201"]["links"] = _list_links(plain)
    invited = _ok(plain, 201, "The invite with its code, shown this once.", ref("NewInvite"))
    invited["201"]["links"] = _invite_links(plain)
    return {
        "/api/{user_id}/lists": {
            "parameters": _use("UserId", "XRequestId"),
            "get": {
                "operationId": "listLists",
                "summary": "The lists you own or belong to: your default list first, then by name",
                "description": 'Your default list ("Inbox" until renamed) is made when first '
                "needed.",
                "security": _AUTH,
                "parameters": _use("IfNoneMatchPage"),
                "responses": {
                    **_ok(plain, 200, "Your lists.", lists, "PageETag"),
                    **_not_modified(),
                    **_errors(401, 403, 422),
                },
            },
            "post": {
                "operationId": "createList",
                "summary": "Create a list",
                "security": _AUTH,
                "requestBody": _body("ListName"),
                "responses": {**created, **_errors(400, 401, 403, 409, 413, 415, 422)},
            },
        },
        "/api/{user_id}/lists/{id}": {
            "parameters": _use("UserId", "ListId", "XRequestId"),
            "get": {
                "operationId": "getList",
                "summary": "Read one list you belong to",
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The list.", one, "ETag"),
                    **_errors(401, 403, 404, 422),
                },
            },
            "patch": {
                "operationId": "renameList",
                "summary": "Rename a list",
                "description": owner,
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "requestBody": _body(
                    "ListName", "application/json", "application/merge-patch+json"
                ),
                "responses": {
                    **_ok(plain, 200, "The renamed list.", one, "ETag"),
                    **_errors(400, 401, 403, 404, 412, 413, 415, 422),
                },
            },
            "delete": {
                "operationId": "deleteList",
                "summary": "Delete a list; the default list is never deleted (409)",
                "description": f"{owner} Its tasks go to your trash, from which they are "
                "restored to your default list.",
                "security": _AUTH,
                "parameters": _use("IfMatch"),
                "responses": {
                    **_ok(plain, 200, "The deleted list, as it was.", one),
                    **_errors(401, 403, 404, 409, 412, 422),
                },
            },
        },
        "/api/{user_id}/lists/{id}/invites": {
            "parameters": _use("UserId", "ListId", "XRequestId"),
            "get": {
                "operationId": "listInvites",
                "summary": "The list's open invites: role and expiry, never a code",
                "description": owner,
                "security": _AUTH,
                "responses": {
                    **_ok(
                        plain, 200, "The open invites.", {"type": "array", "items": ref("Invite")}
                    ),
                    **_errors(401, 403, 404, 422),
                },
            },
            "post": {
                "operationId": "createInvite",
                "summary": "Invite someone to the list as an editor or viewer",
                "description": f"{owner} The default list is never shared (409).",
                "security": _AUTH,
                "requestBody": _body("InviteCreate"),
                "responses": {**invited, **_errors(400, 401, 403, 404, 409, 413, 415, 422)},
            },
        },
        "/api/{user_id}/lists/{id}/invites/{code}": {
            "parameters": _use("UserId", "ListId", "InviteCode", "XRequestId"),
            "delete": {
                "operationId": "withdrawInvite",
                "summary": "Withdraw an open invite by its code",
                "description": owner,
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The withdrawn invite.", ref("Invite")),
                    **_errors(401, 403, 404, 422),
                },
            },
        },
        "/api/{user_id}/invites/{code}/accept": {
            "parameters": _use("UserId", "InviteCode", "XRequestId"),
            "post": {
                "operationId": "acceptInvite",
                "summary": "Join a list with an invite's role; an invite works once",
                "description": "No body. An unknown, used or expired code is a 404; a list you "
                "belong to already is a 409; neither uses the invite up.",
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The list you joined.", one, "ETag"),
                    **_errors(401, 403, 404, 409, 422),
                },
            },
        },
        "/api/{user_id}/lists/{id}/members": {
            "parameters": _use("UserId", "ListId", "XRequestId"),
            "get": {
                "operationId": "listMembers",
                "summary": "Everyone in the list, its owner first; e-mails to the owner only",
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The members.", {"type": "array", "items": ref("Member")}),
                    **_errors(401, 403, 404, 422),
                },
            },
        },
        "/api/{user_id}/lists/{id}/members/{member_id}": {
            "parameters": _use("UserId", "ListId", "MemberId", "XRequestId"),
            "patch": {
                "operationId": "changeMemberRole",
                "summary": "Give a member another role",
                "description": f"{owner} The owner's own role never changes (409).",
                "security": _AUTH,
                "requestBody": _body(
                    "MemberRole", "application/json", "application/merge-patch+json"
                ),
                "responses": {
                    **_ok(plain, 200, "The member in their new role.", ref("Member")),
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            },
            "delete": {
                "operationId": "removeMember",
                "summary": "Remove a member, or leave (your own user id)",
                "description": "The owner removes anyone; a member removes themself. Access "
                "ends at once. The owner cannot leave their list (409): they delete it.",
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The member as they were.", ref("Member")),
                    **_errors(401, 403, 404, 409, 422),
                },
            },
        },
    }


def _sync_paths(plain: bool) -> dict[str, Schema]:
    changes = {"type": "array", "items": ref("Change")}
    kept = HISTORY_KEPT.days
    if plain:
        headers = _response_headers("Link", *FEED_HEADERS)
        content = changes
    else:
        headers = _response_headers()
        content = _envelope(changes, meta=True, meta_schema="FeedMeta")
    return {
        "/api/{user_id}/changes": {
            "parameters": _use("UserId", "XRequestId"),
            "get": {
                "operationId": "listChanges",
                "summary": "What changed in the tasks and lists you see, after a cursor",
                "description": "Entries in the order of a global sequence of committed "
                "changes, each entity at most once per page in its latest state. Without "
                "`since`, a full sync: every task and list you see, as upserts. Losing access "
                "to a list is a delete of the list (its tasks go with it). Following the cursor "
                "from any point ends with exactly the server's state, also while others write. "
                f"Deletes are kept {kept} days; an older `since` is a 410 SYNC_EXPIRED.",
                "security": _AUTH,
                "parameters": [
                    _param(
                        "since",
                        "query",
                        {"type": "string", "minLength": 1},
                        "A cursor of your feed from an earlier answer; absent: from the start.",
                    ),
                    _param(
                        "limit",
                        "query",
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": FEED_LIMIT_MAX,
                            "default": FEED_LIMIT_DEFAULT,
                        },
                        "How many entries to read at most (before each entity is kept once).",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "A page of the feed.",
                        "headers": headers,
                        "content": {"application/json": {"schema": content}},
                    },
                    **_errors(401, 403, 410, 422),
                },
            },
        },
    }


def _account_paths(plain: bool) -> dict[str, Schema]:
    session = ref("Session")
    return {
        "/api/auth/sign-up": {
            "parameters": _use("XRequestId"),
            "post": {
                "operationId": "signUp",
                "summary": "Create a local account and sign it in",
                "requestBody": _body("SignUp"),
                "responses": {
                    **_ok(plain, 201, "The new account and its token.", session),
                    **_errors(400, 403, 409, 413, 415, 422, 429),
                },
            },
        },
        "/api/auth/sign-in": {
            "parameters": _use("XRequestId"),
            "post": {
                "operationId": "signIn",
                "summary": "Sign in with e-mail and password",
                "requestBody": _body("SignIn"),
                "responses": {
                    **_ok(plain, 200, "The account and a token.", session),
                    "401": {
                        "description": "Unknown e-mail or wrong password (one answer for both).",
                        "headers": _response_headers(),
                        "content": {"application/json": {"schema": ref("Error")}},
                    },
                    **_errors(400, 413, 415, 422, 429),
                },
            },
        },
        "/api/auth/me": {
            "parameters": _use("XRequestId"),
            "get": {
                "operationId": "me",
                "summary": "The signed-in user",
                "security": _AUTH,
                "responses": {**_ok(plain, 200, "The user.", ref("User")), **_errors(401)},
            },
            "delete": {
                "operationId": "deleteAccount",
                "summary": "Erase the account and everything it owns, in one transaction",
                "description": "Its tasks, tokens, sessions and sign-ins go; every token of it "
                "stops working. A sign-in token only (a personal access token gets 403); a wrong "
                "password or a sign-in too old is a 403 too.",
                "security": _AUTH,
                "requestBody": _body("AccountDeletion", required=False),
                "responses": {
                    **_ok(plain, 200, "The account as it was.", ref("User")),
                    **_errors(400, 401, 403, 413, 415, 422, 429),
                },
            },
        },
        **_identity_paths(plain),
    }


def _identity_paths(plain: bool) -> dict[str, Schema]:
    token = ref("PersonalToken")
    sign_in_only = " Needs a sign-in token: a personal access token gets 403."
    return {
        "/api/auth/tokens": {
            "parameters": _use("XRequestId"),
            "get": {
                "operationId": "listTokens",
                "summary": "The caller's personal access tokens, newest first, never a secret",
                "description": sign_in_only.strip(),
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The tokens.", {"type": "array", "items": token}),
                    **_errors(401, 403),
                },
            },
            "post": {
                "operationId": "createToken",
                "summary": "A new personal access token, its secret shown once",
                "description": "Send it as `Authorization: Bearer tsk_…` on /api/{user_id}/…; "
                "a `tasks:read` token that writes gets 403." + sign_in_only,
                "security": _AUTH,
                "requestBody": _body("TokenCreate"),
                "responses": {
                    **_ok(plain, 201, "The token and its secret.", ref("NewPersonalToken")),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/auth/tokens/{id}": {
            "parameters": [
                *_use("XRequestId"),
                _param("id", "path", {"type": "string"}, "The token's id.", required=True),
            ],
            "delete": {
                "operationId": "revokeToken",
                "summary": "Revoke a token: refused from the next request on, everywhere",
                "description": sign_in_only.strip(),
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The token as it was.", token),
                    **_errors(401, 403, 404),
                },
            },
        },
        "/api/auth/sign-out-everywhere": {
            "parameters": _use("XRequestId"),
            "post": {
                "operationId": "signOutEverywhere",
                "summary": "End every token this service issued to the caller until now",
                "description": "Sessions and personal access tokens alike, this one included, "
                "on every instance within a second. A frontend's own tokens are its to end."
                + sign_in_only,
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The moment they ended.", ref("SignedOutEverywhere")),
                    **_errors(400, 401, 403, 413, 415),
                },
            },
        },
        "/api/auth/password": {
            "parameters": _use("XRequestId"),
            "post": {
                "operationId": "changePassword",
                "summary": "A new password, once the current one is proved",
                "description": "Rate limited as sign-ins are. Every earlier token ends; the "
                "answer is a new session. A wrong current password, or an account without one, "
                "is a 403." + sign_in_only,
                "security": _AUTH,
                "requestBody": _body("PasswordChange"),
                "responses": {
                    **_ok(plain, 200, "A new session.", ref("Session")),
                    **_errors(400, 401, 403, 413, 415, 422, 429),
                },
            },
        },
        "/api/auth/export": {
            "parameters": _use("XRequestId"),
            "get": {
                "operationId": "exportData",
                "summary": "Everything of the caller's as one JSON document, streamed",
                "description": sign_in_only.strip(),
                "security": _AUTH,
                "responses": {
                    **_ok(plain, 200, "The document.", ref("Export"), "Content-Disposition"),
                    **_errors(401, 403),
                },
            },
        },
    }


_EVENT: Final[Schema] = {
    "description": "One event of the stream (comment lines aside).",
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "description": "The cursor after the entry."},
        "event": {"const": "change"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": 'One feed entry: `{"kind": "task"|"list", "id", "op": '
            '"upsert"|"delete", "data": <the task or list as their routes show them, or null>}`.',
        },
    },
    "required": ["id", "event", "data"],
}


def _event_paths() -> dict[str, Schema]:
    return {
        "/api/{user_id}/events": {
            "parameters": _use("UserId", "XRequestId"),
            "get": {
                "operationId": "streamEvents",
                "summary": "Your change feed, live, as Server-Sent Events",
                "description": "Every entry of the change feed after the cursor (from the start "
                "without one), then each as it is committed, through any process: `id:` the "
                "cursor after the entry, `event: change`, `data:` the entry "
                '(`{"kind", "id", "op", "data"}`). A comment line comes at least every 15 s; '
                "the server ends the stream after EVENTS_LIFETIME (at most an hour), and the "
                "client reconnects with `Last-Event-ID`. The web UI's session cookie also signs "
                "in, from pages of the same origin; a token in the URL never does.",
                "security": _AUTH,
                "parameters": [
                    _param(
                        "since",
                        "query",
                        {"type": "string", "minLength": 1},
                        "Resume after this feed cursor (an event's id, or the change feed's "
                        "`meta.cursor`).",
                    ),
                    _param(
                        "Last-Event-ID",
                        "header",
                        {"type": "string"},
                        "The id of the last event received; wins over `since`.",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The stream.",
                        "headers": _response_headers(),
                        "content": {"text/event-stream": {"schema": _EVENT}},
                    },
                    **_errors(401, 403, 410, 422),
                },
            },
        },
    }


def _probe_paths(plain: bool) -> dict[str, Schema]:
    return {
        "/healthz": {
            "parameters": _use("XRequestId"),
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: 200 while the process runs",
                "responses": _ok(plain, 200, "Running.", ref("Probe"), api=False),
            },
        },
        "/readyz": {
            "parameters": _use("XRequestId"),
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the database answers at the latest migration",
                "responses": {
                    **_ok(plain, 200, "Ready.", ref("Probe"), api=False),
                    "503": {
                        "description": "The database is unreachable or not migrated.",
                        "headers": _response_headers("Retry-After", api=False),
                        "content": {"application/json": {"schema": ref("Error")}},
                    },
                },
            },
        },
    }


def openapi_document(style: Style = ENVELOPE) -> Schema:
    """The whole OpenAPI 3.1 document of the API in `style`."""
    plain = isinstance(style, Plain)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Task service",
            "version": "1.0.0",
            "description": (
                "A multi-user task API in the plain style: a success body is the resource "
                "itself (a list is an array, with its paging and counts in headers); an error "
                "is `{detail, error}`, plus `details` on validation failures. "
                if plain
                else "A multi-user task API. Every /api response is an envelope "
                "`{data, error, message}`; lists add `meta`, validation failures add `details`. "
            )
            + "A method a path does not allow is a 405 with `Allow`; an unknown path is a 404.",
        },
        "paths": {
            **_task_paths(plain),
            **_list_paths(plain),
            **_sync_paths(plain),
            **_trash_paths(plain),
            **_event_paths(),
            **_account_paths(plain),
            **_probe_paths(plain),
        },
        "components": {
            "schemas": _schemas(plain),
            "responses": _error_responses(),
            "parameters": _parameters(),
            "headers": _headers(plain),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from sign-up or sign-in; an HS256 token of a frontend "
                    "under the shared secret (`sub`, or Better Auth's `session_data` cookie with the "
                    "JWT cookie cache); or a Better Auth JWT verified by JWKS.",
                }
            },
        },
    }
