"""The OpenAPI 3.1 document of the JSON API, written to match SPEC.md exactly."""

from __future__ import annotations

from typing import Any, Final

from domain.accounts import EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN
from domain.queries import LIMIT_DEFAULT, LIMIT_MAX
from domain.tasks import DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX

Schema = dict[str, Any]

ERROR_CODES: Final = [
    "BAD_REQUEST",
    "UNAUTHORIZED",
    "INVALID_CREDENTIALS",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "CONFLICT",
    "PRECONDITION_FAILED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "VALIDATION_ERROR",
    "IDEMPOTENCY_KEY_REUSED",
    "RATE_LIMITED",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


_UTC = {"type": "string", "format": "date-time"}
_PRIORITY = {"type": "string", "enum": ["none", "low", "medium", "high"]}
_TAG = {"type": "string", "minLength": 1, "maxLength": TAG_MAX}
_WRITABLE: Final[Schema] = {
    "title": {"type": "string", "minLength": 1, "maxLength": TITLE_MAX},
    "description": _nullable({"type": "string", "maxLength": DESCRIPTION_MAX}),
    "completed": {"type": "boolean"},
    "priority": _PRIORITY,
    "due_date": _nullable({"type": "string", "format": "date"}),
    "due_at": _nullable({"type": "string", "format": "date-time"}),
    "tags": {"type": "array", "maxItems": TAGS_MAX, "items": _TAG},
}
_IGNORED: Final[Schema] = {
    name: {"description": "Read-only; sent back by a client, it is ignored."}
    for name in ("id", "user_id", "version", "created_at", "updated_at", "completed_at")
}
_READ_ONLY: Final[Schema] = {
    "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "user_id": {"type": "string"},
    "version": {"type": "integer", "minimum": 1},
    "created_at": _UTC,
    "updated_at": _UTC,
    "completed_at": _nullable(_UTC),
}


def _envelope(data: Schema, *, meta: bool = False) -> Schema:
    properties: Schema = {"data": data, "error": {"type": "null"}, "message": {"type": "string"}}
    required = ["data", "error", "message"]
    if meta:
        properties["meta"] = ref("ListMeta")
        required.append("meta")
    return {"type": "object", "properties": properties, "required": required}


def _schemas() -> dict[str, Schema]:
    task_properties = {**_READ_ONLY, **_WRITABLE}
    return {
        "Task": {
            "type": "object",
            "properties": task_properties,
            "required": list(task_properties),
            "additionalProperties": False,
        },
        "TaskCreate": {
            "type": "object",
            "properties": {**_WRITABLE, **_IGNORED},
            "required": ["title"],
            "additionalProperties": False,
            "description": "Read-only fields are accepted and ignored; any other unknown field is a 422.",
        },
        "TaskReplace": {
            "type": "object",
            "properties": {**_WRITABLE, **_IGNORED},
            "required": ["title"],
            "additionalProperties": False,
        },
        "TaskPatch": {
            "type": "object",
            "properties": {**_WRITABLE, **_IGNORED},
            "additionalProperties": False,
        },
        "Completion": {
            "type": "object",
            "properties": {"completed": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "FieldError": {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
            "required": ["field", "code", "message"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "data": {"type": "null"},
                "error": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string"},
                "details": {"type": "array", "items": ref("FieldError")},
            },
            "required": ["data", "error", "message"],
        },
        "ListMeta": {
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX},
                "next_cursor": _nullable({"type": "string"}),
                "counts": {
                    "type": "object",
                    "properties": {
                        "pending": {"type": "integer", "minimum": 0},
                        "completed": {"type": "integer", "minimum": 0},
                    },
                    "required": ["pending", "completed"],
                },
            },
            "required": ["limit", "next_cursor", "counts"],
        },
        "User": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "email": _nullable({"type": "string"}),
                "name": _nullable({"type": "string"}),
                "created_at": _UTC,
            },
            "required": ["id", "email", "name", "created_at"],
        },
        "Session": {
            "type": "object",
            "properties": {"user": ref("User"), "token": {"type": "string"}, "expires_at": _UTC},
            "required": ["user", "token", "expires_at"],
        },
        "SignUp": {
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": EMAIL_MAX},
                "password": {
                    "type": "string",
                    "minLength": PASSWORD_MIN,
                    "maxLength": PASSWORD_MAX,
                },
                "name": _nullable({"type": "string", "maxLength": NAME_MAX}),
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
            "properties": {"status": {"type": "string"}},
            "required": ["status"],
        },
    }


_HEADERS: Final[Schema] = {
    "ETag": {
        "description": 'The task version as a strong tag, `"<version>"`.',
        "schema": {"type": "string"},
    },
    "Location": {"description": "The URL of the created task.", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {"description": "The bearer challenge.", "schema": {"type": "string"}},
    "Allow": {"description": "The methods this path allows.", "schema": {"type": "string"}},
    "X-Request-ID": {
        "description": "Echoed when sane, generated otherwise.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays an earlier request with the same key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_ERRORS: Final = {
    "400": ("BadRequest", "The body is not a JSON object in UTF-8, or is nested too deeply.", []),
    "401": ("Unauthorized", "The bearer token is missing or invalid.", ["WWW-Authenticate"]),
    "403": ("Forbidden", "The path's user is not the token's user.", []),
    "404": ("NotFound", "No such route or task (another user's task answers the same).", []),
    "405": ("MethodNotAllowed", "The method is not allowed on this path.", ["Allow"]),
    "409": ("Conflict", "The request conflicts with the current state.", []),
    "412": ("PreconditionFailed", "If-Match does not match the current ETag.", []),
    "413": ("PayloadTooLarge", "The body is over 64 KiB.", []),
    "415": ("UnsupportedMediaType", "The body is not application/json.", []),
    "422": (
        "ValidationError",
        "A field or parameter breaks a rule; `details` lists every one.",
        [],
    ),
    "429": ("RateLimited", "Too many attempts.", ["Retry-After"]),
    "500": ("InternalError", "A bug; the log has the request id.", []),
    "503": (
        "ServiceUnavailable",
        "The database is unreachable or the pool is exhausted.",
        ["Retry-After"],
    ),
}


def _headers(*names: str) -> Schema:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-ID", *names)}


def _error_responses() -> dict[str, Schema]:
    return {
        name: {
            "description": text,
            "headers": _headers(*headers),
            "content": {"application/json": {"schema": ref("Error")}},
        }
        for name, text, headers in _ERRORS.values()
    }


def _errors(*statuses: int) -> dict[str, Schema]:
    codes = {*statuses, 500, 503}
    return {str(s): {"$ref": f"#/components/responses/{_ERRORS[str(s)][0]}"} for s in sorted(codes)}


def _ok(status: int, description: str, data: Schema, *headers: str, meta: bool = False) -> Schema:
    return {
        str(status): {
            "description": description,
            "headers": _headers(*headers),
            "content": {"application/json": {"schema": _envelope(data, meta=meta)}},
        }
    }


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


_USER_ID = _param("user_id", "path", {"type": "string"}, "The token's user (`sub`).", required=True)
_TASK_ID = _param(
    "id",
    "path",
    {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    "The task id.",
    required=True,
)
_IF_MATCH = _param(
    "If-Match", "header", {"type": "string"}, 'Apply only if the task is at this ETag, e.g. `"3"`.'
)
_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]


def list_parameters() -> list[Schema]:
    """The query parameters of the task list."""
    sorts = [
        f"{sign}{field}"
        for field in ("created_at", "updated_at", "priority", "title")
        for sign in ("", "-")
    ]
    return [
        _param(
            "status",
            "query",
            {"type": "string", "enum": ["all", "pending", "completed"], "default": "all"},
            "Filter by completion.",
        ),
        _param(
            "sort",
            "query",
            {"type": "string", "enum": sorts, "default": "-created_at"},
            "Order; `-` for descending; `id` breaks ties.",
        ),
        _param(
            "limit",
            "query",
            {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
            "Page size.",
        ),
        _param(
            "cursor",
            "query",
            {"type": "string", "minLength": 1},
            "`meta.next_cursor` of the previous page.",
        ),
    ]


def _task_paths() -> dict[str, Schema]:
    task = ref("Task")
    item_errors = _errors(400, 401, 403, 404, 412, 413, 415, 422)
    return {
        "/api/{user_id}/tasks": {
            "parameters": [_USER_ID],
            "get": {
                "operationId": "listTasks",
                "summary": "List, filter, sort and page the user's tasks",
                "security": _AUTH,
                "parameters": list_parameters(),
                "responses": {
                    **_ok(200, "A page of tasks.", {"type": "array", "items": task}, meta=True),
                    **_errors(401, 403, 422),
                },
            },
            "post": {
                "operationId": "createTask",
                "summary": "Create a task",
                "security": _AUTH,
                "requestBody": _body("TaskCreate"),
                "responses": {
                    **_ok(201, "The created task.", task, "ETag", "Location"),
                    **_errors(400, 401, 403, 413, 415, 422),
                },
            },
        },
        "/api/{user_id}/tasks/{id}": {
            "parameters": [_USER_ID, _TASK_ID],
            "get": {
                "operationId": "getTask",
                "summary": "Read one task",
                "security": _AUTH,
                "parameters": [
                    _param(
                        "If-None-Match",
                        "header",
                        {"type": "string"},
                        "Answer 304 if the task is still at this ETag.",
                    )
                ],
                "responses": {
                    **_ok(200, "The task.", task, "ETag"),
                    "304": {
                        "description": "The client's copy is current.",
                        "headers": _headers("ETag"),
                    },
                    **_errors(401, 403, 404),
                },
            },
            "put": {
                "operationId": "replaceTask",
                "summary": "Update a task: title required, left-out fields keep their value",
                "security": _AUTH,
                "parameters": [_IF_MATCH],
                "requestBody": _body("TaskReplace"),
                "responses": {**_ok(200, "The updated task.", task, "ETag"), **item_errors},
            },
            "patch": {
                "operationId": "patchTask",
                "summary": "Partially update a task (JSON merge patch)",
                "security": _AUTH,
                "parameters": [_IF_MATCH],
                "requestBody": _body(
                    "TaskPatch", "application/json", "application/merge-patch+json"
                ),
                "responses": {**_ok(200, "The updated task.", task, "ETag"), **item_errors},
            },
            "delete": {
                "operationId": "deleteTask",
                "summary": "Delete a task; the answer carries it so a client can offer undo",
                "security": _AUTH,
                "parameters": [_IF_MATCH],
                "responses": {**_ok(200, "The deleted task.", task), **_errors(401, 403, 404, 412)},
            },
        },
        "/api/{user_id}/tasks/{id}/complete": {
            "parameters": [_USER_ID, _TASK_ID],
            "patch": {
                "operationId": "setTaskCompletion",
                "summary": "Set completion; no body or `{}` means true (never a toggle)",
                "security": _AUTH,
                "parameters": [_IF_MATCH],
                "requestBody": _body(
                    "Completion", "application/json", "application/merge-patch+json", required=False
                ),
                "responses": {**_ok(200, "The task.", task, "ETag"), **item_errors},
            },
        },
    }


def _account_paths() -> dict[str, Schema]:
    session = ref("Session")
    return {
        "/api/auth/sign-up": {
            "post": {
                "operationId": "signUp",
                "summary": "Create a local account and sign it in",
                "requestBody": _body("SignUp"),
                "responses": {
                    **_ok(201, "The new account and its token.", session),
                    **_errors(400, 403, 409, 413, 415, 422, 429),
                },
            }
        },
        "/api/auth/sign-in": {
            "post": {
                "operationId": "signIn",
                "summary": "Sign in with e-mail and password",
                "requestBody": _body("SignIn"),
                "responses": {
                    **_ok(200, "The account and a token.", session),
                    "401": {
                        "description": "Unknown e-mail or wrong password (one answer for both).",
                        "headers": _headers(),
                        "content": {"application/json": {"schema": ref("Error")}},
                    },
                    **_errors(400, 413, 415, 422, 429),
                },
            }
        },
        "/api/auth/me": {
            "get": {
                "operationId": "me",
                "summary": "The signed-in user",
                "security": _AUTH,
                "responses": {**_ok(200, "The user.", ref("User")), **_errors(401)},
            }
        },
    }


def _probe_paths() -> dict[str, Schema]:
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: 200 while the process runs",
                "responses": _ok(200, "Running.", ref("Probe")),
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: the database answers at the latest migration",
                "responses": {
                    **_ok(200, "Ready.", ref("Probe")),
                    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
                },
            }
        },
    }


def openapi_document() -> Schema:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Task service",
            "version": "1.0.0",
            "description": "A multi-user task API. Every /api response is an envelope "
            "`{data, error, message}`; lists add `meta`, validation failures add `details`.",
        },
        "paths": {**_task_paths(), **_account_paths(), **_probe_paths()},
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "headers": _HEADERS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "HS256 with the shared secret, or a Better Auth JWT verified by JWKS.",
                }
            },
        },
    }
