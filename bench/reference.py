"""The ceiling of this stack: bare Starlette routes on a raw asyncpg pool, with the service's SQL.

Run by the benchmark as `uvicorn --factory bench.reference:create_app` with `BENCH_DATABASE_URL`
(a plain `postgresql://` DSN) and `BETTER_AUTH_SECRET`. It answers exactly the requests the
benchmark sends, with the same envelope, headers, JWT check (HS256 through joserfc) and the same
SQL statements as the service's SQLAlchemy adapter compiles them, and nothing else: no domain
objects, no SQLAlchemy, no logging, no middleware beyond Starlette's own two. Reads run outside a
transaction (in READ COMMITTED a BEGIN/ROLLBACK around them buys nothing), writes inside one, and
the pool skips asyncpg's reset query on release because no request leaves session state behind.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import fractional_indexing
import orjson
from cachetools import TLRUCache
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.auth.tokens import REMEMBERED_BYTES
from adapters.persistence.engine import PLAN_CACHE_MODE
from bench import reference_sql
from bench.reference_sql import WRITTEN
from domain.sync import scope_tag

POOL_SIZE: Final = 10  # the service's default DB_POOL_SIZE
LIMIT_DEFAULT: Final = 50
LIMIT_MAX: Final = 100
BATCH_MAX: Final = 100
FEED_LIMIT_DEFAULT: Final = 100
FEED_LIMIT_MAX: Final = 500
LEEWAY_S: Final = 30
MAX_TOKEN: Final = 8 * 1024
PRIORITIES: Final = ("none", "low", "medium", "high")
_RANKS: Final = {name: rank for rank, name in enumerate(PRIORITIES)}
_JSON_OPTIONS: Final = orjson.OPT_UTC_Z

PAGES: Final = {
    (one_list, after): reference_sql.page_sql(one_list=one_list, after=after)
    for one_list in (False, True)
    for after in (False, True)
}
COUNTS: Final = {
    one_list: reference_sql.counts_sql(one_list=one_list) for one_list in (False, True)
}
GET_ONE: Final = reference_sql.GET_VISIBLE
WRITERS: Final = ("owner", "editor")
"""The roles that may change a task (the service's policy: domain/policy.py)."""


def search_text(title: str, description: str | None) -> str:
    """The folded search text (domain.queries.search_text's rule)."""
    return title.casefold() + "\x1f" + (description or "").casefold()


_WRITABLE: Final = ("title", "description", "completed", "priority", "due_date", "due_at", "tags")


class Failure(Exception):
    """An error answer in the service's envelope."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


_UNAUTHORIZED: Final = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _json_response(
    body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    all_headers = {"X-Request-ID": uuid.uuid4().hex, "Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return Response(
        orjson.dumps(body, option=_JSON_OPTIONS), status, all_headers, "application/json"
    )


def _success(
    data: Any,
    message: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"data": data, "error": None, "message": message}
    if meta is not None:
        body["meta"] = meta
    return _json_response(body, status, headers)


async def _failure(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Failure)
    body = {"data": None, "error": exc.code, "message": exc.message}
    return _json_response(body, exc.status, exc.headers)


class Verifier:
    """The service's HS256 check: signature, `exp` and `sub` required, 30 s leeway; a token
    that passed is remembered until it expires, as the service does."""

    def __init__(self, secret: bytes) -> None:
        self._key = OctKey.import_key(secret)
        # (claims, the token's length), bounded in bytes as the service's memory is.
        self._verified: TLRUCache[str, tuple[dict[str, Any], int]] = TLRUCache(
            maxsize=REMEMBERED_BYTES,
            ttu=lambda _token, kept, _now: float(kept[0]["exp"]) + LEEWAY_S,
            timer=time.time,
            getsizeof=lambda kept: kept[1],
        )

    def principal(self, request: Request) -> tuple[str, str | None]:
        """The token's subject and e-mail; Failure(401) for a missing or invalid token."""
        header = request.headers.get("authorization")
        if header is None:
            raise Failure(401, "UNAUTHORIZED", "Missing token.", {"WWW-Authenticate": "Bearer"})
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
            raise Failure(401, "UNAUTHORIZED", "Invalid token.", _UNAUTHORIZED)
        kept = self._verified.get(token)
        claims = kept[0] if kept is not None else self._check(token)
        sub, email = claims["sub"], claims.get("email")
        if not isinstance(sub, str) or not 1 <= len(sub) <= 255:
            raise Failure(401, "UNAUTHORIZED", "Invalid token.", _UNAUTHORIZED)
        return sub, email if isinstance(email, str) else None

    def _check(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"]).claims
            jwt.JWTClaimsRegistry(
                now=int(time.time()),
                leeway=LEEWAY_S,
                exp={"essential": True},
                sub={"essential": True},
            ).validate(claims)
        except Exception:
            raise Failure(401, "UNAUTHORIZED", "Invalid token.", _UNAUTHORIZED) from None
        self._verified[token] = (claims, len(token))
        return claims

    def owner(self, request: Request) -> tuple[str, str | None]:
        """The caller, who must be the `{user_id}` of the path; Failure(403) otherwise."""
        user, email = self.principal(request)
        if request.path_params["user_id"] != user:
            raise Failure(403, "FORBIDDEN", "This is not your task list.")
        return user, email


def task_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The wire form of a task row (datetimes are rendered by orjson)."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "title": row["title"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "description": row["description"],
        "completed": row["completed"],
        "completed_at": row["completed_at"],
        "priority": PRIORITIES[row["priority"]],
        "due_date": row["due_date"],
        "due_at": row["due_at"],
        "tags": row["tags"],
        "version": row["version"],
        "list_id": row["list_id"],
        "parent_id": row["parent_id"],
        "position": row["position"],
        "created_by": row["created_by"],
    }


def encode_cursor(row: Mapping[str, Any]) -> str:
    """An opaque cursor after `row` in the default order."""
    raw = orjson.dumps([row["created_at"].isoformat(), row["id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The keyset position inside a cursor; Failure(422) if it is not one of ours."""
    try:
        moment, task_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(moment), int(task_id)
    except (ValueError, TypeError):
        raise Failure(422, "VALIDATION_ERROR", "The cursor is malformed.") from None


_FEED_START: Final = (-(2**63), "", 0, "")
"""Before every entry of a feed (rows older than it are numbered below 0)."""
_LIST_FIELDS: Final = (
    "id",
    "owner_id",
    "name",
    "is_default",
    "version",
    "created_at",
    "updated_at",
)


def encode_feed_cursor(position: tuple[Any, ...] | None) -> str:
    """An opaque feed cursor after `position` (number, kind, id, op); None: the start."""
    raw = orjson.dumps(position)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_feed_cursor(cursor: str) -> tuple[int, str, int, str]:
    """The feed position inside a cursor; Failure(422) if it is not one of ours."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if raw is None:
            return _FEED_START
        changed, kind, entity_id, op = raw
        return int(changed), str(kind), int(entity_id), str(op)
    except (ValueError, TypeError):
        raise Failure(422, "VALIDATION_ERROR", "since is malformed.") from None


def _feed_entry(row: Sequence[Any]) -> dict[str, Any]:
    """A feed entry of a row of reference_sql.FEED, its task or list as the service shows it."""
    _, kind, entity_id, op = row[:4]
    data: dict[str, Any] | None = None
    if op == "upsert" and kind == "task":
        data = task_json(dict(zip(reference_sql.NAMES, row[4:], strict=False)))
    elif op == "upsert":
        listed = row[4 + len(reference_sql.NAMES) :]
        role, members, pending, completed = listed[len(_LIST_FIELDS) :]
        data = dict(zip(_LIST_FIELDS, listed, strict=False)) | {
            "role": role,
            "members": members,
            "counts": {"pending": pending, "completed": completed},
        }
    return {"kind": kind, "id": entity_id, "op": op, "data": data}


def _feed_limit(raw: str | None) -> int:
    if raw is None:
        return FEED_LIMIT_DEFAULT
    if raw.isdigit() and 1 <= int(raw) <= FEED_LIMIT_MAX:
        return int(raw)
    raise Failure(422, "VALIDATION_ERROR", f"limit must be 1 to {FEED_LIMIT_MAX}.")


def _limit(raw: str | None) -> int:
    if raw is None:
        return LIMIT_DEFAULT
    if raw.isdigit() and 1 <= int(raw) <= LIMIT_MAX:
        return int(raw)
    raise Failure(422, "VALIDATION_ERROR", "limit must be an integer from 1 to 100.")


def _task_id(request: Request) -> int:
    text = request.path_params["task_id"]
    if text.isdigit() and 0 < int(text) < 2**63:
        return int(text)
    raise Failure(404, "NOT_FOUND", "No such task.")


def _if_match(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    try:
        return int(header.strip().strip('"'))
    except ValueError:
        return -1


async def _json_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    body = await request.body()
    if optional and not body:
        return {}
    if request.headers.get("content-type", "").split(";")[0].strip() not in (
        "application/json",
        "application/merge-patch+json",
    ):
        raise Failure(415, "UNSUPPORTED_MEDIA_TYPE", "The body must be application/json.")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Failure(400, "BAD_REQUEST", "The body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise Failure(400, "BAD_REQUEST", "The body must be a JSON object.")
    return parsed


def _changes(body: Mapping[str, Any], *, title_required: bool) -> dict[str, Any]:
    """The writable fields of a body, lightly checked (the service's full rules are its cost)."""
    changes: dict[str, Any] = {}
    title = body.get("title")
    if isinstance(title, str) and 1 <= len(title.strip()) <= 200:
        changes["title"] = title.strip()
    elif title is not None or title_required:
        raise Failure(422, "VALIDATION_ERROR", "A title of 1 to 200 characters is required.")
    if "description" in body:
        changes["description"] = body["description"] or None
    if "priority" in body:
        if body["priority"] not in _RANKS:
            raise Failure(422, "VALIDATION_ERROR", "Unknown priority.")
        changes["priority"] = _RANKS[body["priority"]]
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise Failure(422, "VALIDATION_ERROR", "tags must be a list of strings.")
        changes["tags"] = list(dict.fromkeys(t.strip().lower() for t in tags))
    return changes


class TaskEndpoints:
    """The benchmarked endpoints on one pool and one verifier."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier
        self.pool: Any = None
        self.insert = reference_sql.insert_sql()
        self.update = reference_sql.update_sql()

    async def open(self, dsn: str) -> None:
        """Open the pool."""
        self.pool = await asyncpg.create_pool(
            dsn,
            min_size=POOL_SIZE,
            max_size=POOL_SIZE,
            init=_init_connection,
            reset=_no_reset,
            # The service's own planning rule, so that the ratio measures the service.
            server_settings={"plan_cache_mode": PLAN_CACHE_MODE},
        )

    async def list_or_create(self, request: Request) -> Response:
        """GET or POST /api/{user_id}/tasks."""
        if request.method == "POST":
            return await self.create(request)
        return await self.index(request)

    async def index(self, request: Request) -> Response:
        """One keyset page, newest first, of every list of the user or of one (`list`), with
        their counts; as the service, a named list is checked first (404 for a non-member)."""
        user, _ = self.verifier.owner(request)
        params = request.query_params
        limit = _limit(params.get("limit"))
        cursor = params.get("cursor")
        chosen = _list_id(params.get("list"))
        scope = (user,) if chosen is None else (user, chosen)
        async with self.pool.acquire() as conn:
            # As the service: the page's tag first, which also proves a named list's membership.
            stamps = await conn.fetch(reference_sql.STAMPS[chosen is not None], *scope)
            if chosen is not None and not stamps:
                raise Failure(404, "NOT_FOUND", "No such list.")
            tag = scope_tag([tuple(s) for s in stamps], request.url.query)
            if tag in request.headers.get("if-none-match", ""):
                return Response(status_code=304, headers={"ETag": tag})
            one_list = chosen is not None
            if cursor:
                moment, after_id = decode_cursor(cursor)
                page_sql = PAGES[(one_list, True)]
                rows = await conn.fetch(page_sql, *scope, moment, after_id, limit + 1)
            else:
                rows = await conn.fetch(PAGES[(one_list, False)], *scope, limit + 1)
            counts = rows[0][-2:] if rows else await conn.fetchrow(COUNTS[one_list], *scope)
        page = rows[:limit]
        pending, completed = counts
        meta = {
            "limit": limit,
            "next_cursor": encode_cursor(page[-1]) if len(rows) > limit else None,
            "counts": {"pending": pending, "completed": completed},
        }
        response = _success([task_json(r) for r in page], f"{len(page)} task(s).", meta=meta)
        response.headers["ETag"] = tag
        return response

    async def changes(self, request: Request) -> Response:
        """GET /api/{user_id}/changes: a page of the feed after `since` (from the start without
        it), each entity once, then the purge horizon when a cursor was given, as the service."""
        user, _ = self.verifier.owner(request)
        params = request.query_params
        limit = _feed_limit(params.get("limit"))
        since = params.get("since")
        after = _FEED_START if since is None else decode_feed_cursor(since)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(reference_sql.FEED, user, *after, limit + 1)
            if since is not None:
                horizon = await conn.fetchval(reference_sql.HORIZON)
                if horizon and after[0] <= horizon:
                    raise Failure(410, "SYNC_EXPIRED", "The cursor is too old; sync in full.")
        shown = rows[:limit]
        last = {(r[1], r[2]): i for i, r in enumerate(shown)}
        entries = [_feed_entry(r) for i, r in enumerate(shown) if last[(r[1], r[2])] == i]
        if shown:
            cursor = encode_feed_cursor(tuple(shown[-1][:4]))
        else:
            cursor = since if since is not None else encode_feed_cursor(None)
        meta = {"cursor": cursor, "has_more": len(rows) > limit}
        return _success(entries, f"{len(entries)} change(s).", meta=meta)

    async def create(self, request: Request) -> Response:
        """A new task at the end of the user's default list, counted there, the user provisioned
        in the same statement; the list and its last position read first, as the service does."""
        user, email = self.verifier.owner(request)
        changes = _changes(await _json_body(request), title_required=True)
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            inbox = await conn.fetchrow(reference_sql.DEFAULT_LIST, user)
            if inbox is None:
                raise Failure(409, "CONFLICT", "The bench seeds every user's default list.")
            last = await conn.fetchval(reference_sql.LAST_POSITION, inbox["id"])
            row = _new_row(user, inbox, changes, last, now)
            created = (user, email, None, now, 1, 0, row["list_id"], row["user_id"])
            inserted = [row[name] for name, _ in WRITTEN if name != "list_id"]
            async with conn.transaction():
                row["id"] = await conn.fetchval(
                    self.insert, *created, *inserted, _search_text_of(row)
                )
        headers = {"ETag": '"1"', "Location": f"/api/{user}/tasks/{row['id']}"}
        return _success(task_json(row), "Task created.", status=201, headers=headers)

    async def batch(self, request: Request) -> Response:
        """POST /api/{user_id}/tasks/batch of creates: each new task at the end of the user's
        default list, all in one transaction. Per operation the same three statements as the
        service's (default list, last position, insert), as it runs each create of a batch."""
        user, email = self.verifier.owner(request)
        operations = (await _json_body(request)).get("operations")
        if not isinstance(operations, list) or not 1 <= len(operations) <= BATCH_MAX:
            raise Failure(422, "VALIDATION_ERROR", "A batch holds 1 to 100 operations.")
        if not all(isinstance(o, dict) and o.get("op") == "create" for o in operations):
            raise Failure(422, "VALIDATION_ERROR", "The bench sends creates only.")
        changes = [_changes(o.get("data") or {}, title_required=True) for o in operations]
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for change in changes:
                inbox = await conn.fetchrow(reference_sql.DEFAULT_LIST, user)
                if inbox is None:
                    raise Failure(409, "CONFLICT", "The bench seeds every user's default list.")
                last = await conn.fetchval(reference_sql.LAST_POSITION, inbox["id"])
                row = _new_row(user, inbox, change, last, now)
                created = (user, email, None, now, 1, 0, row["list_id"], row["user_id"])
                inserted = [row[name] for name, _ in WRITTEN if name != "list_id"]
                row["id"] = await conn.fetchval(
                    self.insert, *created, *inserted, _search_text_of(row)
                )
                rows.append(row)
        return _success([task_json(r) for r in rows], f"{len(rows)} operation(s) applied.")

    async def show_or_replace(self, request: Request) -> Response:
        """GET or PUT /api/{user_id}/tasks/{id}."""
        if request.method == "PUT":
            body = await _json_body(request)
            return await self.write(request, _changes(body, title_required=True), "Task updated.")
        return await self.show(request)

    async def show(self, request: Request) -> Response:
        """One task of any list the user belongs to."""
        user, _ = self.verifier.owner(request)
        task_id = _task_id(request)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(GET_ONE, user, task_id)
        if row is None:
            raise Failure(404, "NOT_FOUND", "No such task.")
        etag = f'"{row["version"]}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return _success(task_json(row), "Task found.", headers={"ETag": etag})

    async def complete(self, request: Request) -> Response:
        """PATCH …/complete: set completion (true when the body is empty)."""
        body = await _json_body(request, optional=True)
        completed = body.get("completed", True)
        if not isinstance(completed, bool):
            raise Failure(422, "VALIDATION_ERROR", "completed must be true or false.")
        message = "Task completed." if completed else "Task reopened."
        return await self.write(request, {"completed": completed}, message)

    async def write(self, request: Request, changes: dict[str, Any], message: str) -> Response:
        """Read with the role, check it and If-Match, apply, and update in a transaction if the
        version still holds; a change of completion moves the list's counters in the same
        statement. The read needs no transaction (the update checks the version), as in the
        service."""
        user, _ = self.verifier.owner(request)
        task_id = _task_id(request)
        expected = _if_match(request)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(GET_ONE, user, task_id)
            if row is None:
                raise Failure(404, "NOT_FOUND", "No such task.")
            if row["role"] not in WRITERS:
                raise Failure(403, "FORBIDDEN", "Your role in this list does not allow this.")
            if expected is not None and row["version"] != expected:
                raise Failure(412, "PRECONDITION_FAILED", "The task has changed.")
            task = _applied(dict(row), changes)
            if task != dict(row):
                values = _updated(task)
                where = (task_id, row["version"])
                async with conn.transaction():
                    moved = _moved(row["list_id"], was=row["completed"], to=task["completed"])
                    done = await conn.fetch(self.update, *moved, *values, *where)
                if not done:
                    raise Failure(412, "PRECONDITION_FAILED", "The task has changed.")
        return _success(task_json(task), message, headers={"ETag": f'"{task["version"]}"'})


def _new_row(
    user: str, inbox: Mapping[str, Any], changes: Mapping[str, Any], last: str | None, now: datetime
) -> dict[str, Any]:
    """A new task of `user`'s at the end of their default list `inbox` (after `last`)."""
    return {
        "user_id": inbox["owner_id"],
        "title": changes["title"],
        "description": changes.get("description"),
        "completed": False,
        "completed_at": None,
        "priority": changes.get("priority", 0),
        "due_date": None,
        "due_at": None,
        "tags": changes.get("tags", []),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "list_id": inbox["id"],
        "parent_id": None,
        "position": fractional_indexing.generate_key_between(last, None),
        "created_by": user,
    }


def _list_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    if raw.isdigit() and 0 < int(raw) < 2**63:
        return int(raw)
    raise Failure(422, "VALIDATION_ERROR", "list must be the id of a list.")


def _search_text_of(task: Mapping[str, Any]) -> str:
    return search_text(task["title"], task["description"])


def _updated(task: Mapping[str, Any]) -> list[Any]:
    """The owner, then every written column in the table's order, as the service's UPDATE."""
    values = [task["user_id"]]
    values += [task[name] for name in reference_sql.TABLE_ORDER if name != "search_text"]
    values.append(_search_text_of(task))
    return values


def _moved(list_id: int, *, was: bool, to: bool) -> tuple[int, ...]:
    """(from list, from pending, to list, to pending, from completed, to completed): the task
    leaves the counter of its old state and joins that of its new one, in its one list."""
    return (list_id, -1 + was, list_id, 1 - to, -was, +to)


def _applied(row: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The row with `changes`; the same dict values when nothing would differ."""
    task = row | {k: v for k, v in changes.items() if k in _WRITABLE}
    if "completed" in changes and changes["completed"] != row["completed"]:
        task["completed_at"] = datetime.now(UTC) if changes["completed"] else None
    if task != row:
        task["version"] = row["version"] + 1
        task["updated_at"] = datetime.now(UTC)
    return task


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _no_reset(_conn: Any) -> None:
    """Skip asyncpg's reset query on release: no request leaves session state behind."""


def create_app() -> Starlette:
    """The reference app, configured from BENCH_DATABASE_URL and BETTER_AUTH_SECRET."""
    dsn = os.environ["BENCH_DATABASE_URL"]
    endpoints = TaskEndpoints(Verifier(os.environ["BETTER_AUTH_SECRET"].encode()))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await endpoints.open(dsn)
        try:
            yield
        finally:
            await endpoints.pool.close()

    async def healthz(_request: Request) -> Response:
        return _success(None, "ok")

    routes = [
        Route("/healthz", healthz),
        Route("/api/{user_id}/tasks", endpoints.list_or_create, methods=["GET", "POST"]),
        Route("/api/{user_id}/tasks/batch", endpoints.batch, methods=["POST"]),
        Route("/api/{user_id}/tasks/{task_id}", endpoints.show_or_replace, methods=["GET", "PUT"]),
        Route("/api/{user_id}/tasks/{task_id}/complete", endpoints.complete, methods=["PATCH"]),
        Route("/api/{user_id}/changes", endpoints.changes, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={Failure: _failure}, lifespan=lifespan)
