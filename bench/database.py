"""A throw-away PostgreSQL database: created, migrated with the project's migrations, seeded, dropped."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import attrs

from adapters.persistence import upgrade_to_head
from bench import seed

DEFAULT_ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
ADMIN_URL_VARIABLE: Final = "BENCH_POSTGRES_URL"
_COPY_BATCH: Final = 20_000
# Columns the seeder knows how to fill, or knows may stay NULL.
_KNOWN: Final = {
    "users": {*seed.USER_COLUMNS, "password_hash", "email_key"},
    "lists": {"id", *seed.LIST_COLUMNS, "pending", "completed"},
    "memberships": set(seed.MEMBERSHIP_COLUMNS),
    "tasks": {
        "id",
        *seed.TASK_COLUMNS,
        *seed.PLACEMENT_COLUMNS,
        "parent_id",
        *seed.DERIVED_TASK_COLUMNS,
    },
}
# Tables the seeder fills, and tables that start empty by design (idempotency keys, invites,
# ended sessions).
_KNOWN_TABLES: Final = {
    *_KNOWN,
    "alembic_version",
    "idempotency_keys",
    "invites",
    "ended_sessions",
}


_SETTLE_STEP_S: Final = 0.25
_SETTLE_TIMEOUT_S: Final = 15.0
_BUSY_BACKENDS: Final = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
)


class SeedError(RuntimeError):
    """The schema needs something the seeder does not know how to provide."""


@attrs.frozen(kw_only=True)
class Fixture:
    """What the scenarios need to know about the seeded data."""

    counts: dict[str, tuple[int, int]]
    """(pending, completed) per user with many tasks."""
    lists: dict[str, list[int]]
    """The ids of each user's lists, their Inbox first."""
    shared_list: int
    """The list of USER_LISTS that USER_EDITOR edits."""
    sample_task: int
    """A task in the middle of the 10,000-task user's list."""
    writer_tasks: tuple[tuple[str, int], ...]
    """(user, task id): the first task of each user with few tasks."""


@attrs.frozen(kw_only=True)
class TaskState:
    """Where one task stands now, so that a wrk script can send a matching If-Match."""

    user_id: str
    task_id: int
    version: int
    completed: bool


def admin_url() -> str:
    """The maintenance database URL, from BENCH_POSTGRES_URL or the local default."""
    return os.environ.get(ADMIN_URL_VARIABLE) or DEFAULT_ADMIN_URL


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class BenchDatabase:
    """One database of the benchmark's own, under a unique name."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.name = f"bench_{os.getpid()}_{secrets.token_hex(4)}"
        self.url = _with_database(admin, self.name)
        self._created = False
        self._conn: Any = None

    async def create(self) -> None:
        """Create the empty database."""
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self._created = True
        finally:
            await conn.close()

    async def migrate(self) -> None:
        """Bring the schema to head with the project's own Alembic migrations."""
        await asyncio.to_thread(upgrade_to_head, self.url)
        self._conn = await asyncpg.connect(self.url)

    async def drop(self) -> None:
        """Close our connection and drop the database, whoever is still connected."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        if not self._created:
            return
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._created = False
        finally:
            await conn.close()

    async def server_version(self) -> str:
        """PostgreSQL's version string."""
        return str(await self._conn.fetchval("SELECT version()"))

    async def populate(self, plan: seed.Plan) -> Fixture:
        """Fill users, lists, memberships and tasks with COPY, then VACUUM ANALYZE; returns what
        scenarios need."""
        present = await self._check_schema()
        derived = [c for c in seed.DERIVED_TASK_COLUMNS if c in present]
        columns = [*seed.TASK_COLUMNS, *seed.PLACEMENT_COLUMNS, *derived]
        now = datetime.now(UTC)
        await self._conn.copy_records_to_table(
            "users", records=seed.user_rows(plan, now), columns=list(seed.USER_COLUMNS)
        )
        await self._conn.copy_records_to_table(
            "lists", records=seed.list_rows(plan, now), columns=list(seed.LIST_COLUMNS)
        )
        list_ids = {
            (r["owner_id"], r["name"]): r["id"]
            for r in await self._conn.fetch("SELECT id, owner_id, name FROM lists")
        }
        await self._conn.copy_records_to_table(
            "memberships",
            records=seed.membership_rows(plan, list_ids, now),
            columns=list(seed.MEMBERSHIP_COLUMNS),
        )
        rng = random.Random(7)  # test data, not secrets
        for user, count in plan.task_counts.items():
            mine = [list_ids[(user, name)] for name in plan.list_names(user)]
            rows = seed.placed(seed.task_rows(user, count, now, rng), mine)
            await self._copy_tasks(seed.with_derived(rows, derived), columns)
        await self._conn.execute(seed.COUNT_TASKS)
        if "changed" in present:
            # As migration 0008 numbers the rows it finds: each its own number below 0.
            for table in ("tasks", "lists"):
                await self._conn.execute(
                    f"UPDATE {table} SET changed = id - (SELECT max(id) + 1 FROM {table})"
                )
            await self._conn.execute(f"UPDATE memberships SET changed = {-(2**62)}")
        for table in ("users", "lists", "memberships", "tasks"):
            await self._conn.execute(f"VACUUM ANALYZE {table}")
        return await self._fixture(plan, list_ids)

    async def _copy_tasks(self, rows: Iterable[tuple[Any, ...]], columns: list[str]) -> None:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _COPY_BATCH:
                await self._conn.copy_records_to_table("tasks", records=batch, columns=columns)
                batch = []
        if batch:
            await self._conn.copy_records_to_table("tasks", records=batch, columns=columns)

    async def _check_schema(self) -> set[str]:
        """The tasks columns; fails loudly on a required column the seeder cannot fill."""
        rows = await self._conn.fetch(
            "SELECT table_name, column_name, is_nullable, column_default, is_identity, "
            "is_generated FROM information_schema.columns WHERE table_schema = 'public'"
        )
        required: list[str] = []
        for row in rows:
            table, column = row["table_name"], row["column_name"]
            if table not in _KNOWN or column in _KNOWN[table]:
                continue
            has_value = (
                row["column_default"] is not None
                or row["is_identity"] == "YES"
                or row["is_generated"] != "NEVER"
            )
            if row["is_nullable"] == "NO" and not has_value:
                required.append(f"{table}.{column}")
            else:
                print(f"bench: note: {table}.{column} is new; the seeder leaves it to its default")
        if required:
            raise SeedError(
                f"The schema now requires {', '.join(required)}, which bench/seed.py does not "
                "fill; teach it (bench/seed.py: the row builders or DERIVED_TASK_COLUMNS)."
            )
        tables = {r["table_name"] for r in rows} - _KNOWN_TABLES
        if tables:
            print(
                f"bench: note: tables {sorted(tables)} are not seeded; the counts check after "
                "start-up fails if they hold per-user state the service relies on"
            )
        return {r["column_name"] for r in rows if r["table_name"] == "tasks"}

    async def _fixture(self, plan: seed.Plan, list_ids: dict[tuple[str, str], int]) -> Fixture:
        counts: dict[str, tuple[int, int]] = {}
        for user in (seed.USER_10K, seed.USER_100K, seed.USER_LISTS):
            rows = await self._conn.fetch(
                "SELECT completed, count(*) AS n FROM tasks WHERE user_id = $1 GROUP BY completed",
                user,
            )
            by_state = {r["completed"]: r["n"] for r in rows}
            counts[user] = (by_state.get(False, 0), by_state.get(True, 0))
        sample = await self._conn.fetchval(
            "SELECT id FROM tasks WHERE user_id = $1 ORDER BY id OFFSET 5000 LIMIT 1", seed.USER_10K
        )
        writers = await self._conn.fetch(
            "SELECT DISTINCT ON (user_id) user_id, id FROM tasks WHERE user_id LIKE 'bench-u%' "
            "ORDER BY user_id, id"
        )
        return Fixture(
            counts=counts,
            lists={
                user: [list_ids[(user, n)] for n in plan.list_names(user)]
                for user in plan.task_counts
            },
            shared_list=list_ids[plan.editors[seed.USER_EDITOR]],
            sample_task=int(sample),
            writer_tasks=tuple((r["user_id"], int(r["id"])) for r in writers),
        )

    async def settled_states(self, task_ids: Sequence[int]) -> list[TaskState]:
        """Task states once the last run's in-flight writes have landed.

        wrk stops with requests still in the server, which commit after it exits; reading
        versions before they land would hand the next run stale If-Match values (412s).
        """
        deadline = time.monotonic() + _SETTLE_TIMEOUT_S
        previous = await self.task_states(task_ids)
        while time.monotonic() < deadline:
            await asyncio.sleep(_SETTLE_STEP_S)
            busy = await self._conn.fetchval(_BUSY_BACKENDS)
            current = await self.task_states(task_ids)
            if not busy and current == previous:
                return current
            previous = current
        raise SeedError(f"writes to the benchmark database did not stop in {_SETTLE_TIMEOUT_S} s")

    async def task_states(self, task_ids: Sequence[int]) -> list[TaskState]:
        """The current version and completion of these tasks, in the order given."""
        rows = await self._conn.fetch(
            "SELECT id, user_id, version, completed FROM tasks WHERE id = ANY($1::bigint[])",
            list(task_ids),
        )
        by_id = {
            r["id"]: TaskState(
                user_id=r["user_id"],
                task_id=r["id"],
                version=r["version"],
                completed=r["completed"],
            )
            for r in rows
        }
        return [by_id[task_id] for task_id in task_ids]


async def timed_setup(database: BenchDatabase, plan: seed.Plan) -> tuple[Fixture, float]:
    """Create, migrate and seed; returns the fixture and the seconds it took."""
    started = time.monotonic()
    await database.create()
    await database.migrate()
    fixture = await database.populate(plan)
    return fixture, time.monotonic() - started
