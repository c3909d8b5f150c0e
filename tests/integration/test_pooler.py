"""The service through PgBouncer in transaction mode: what breaks without pooler mode, and holds
with it (the behaviour suite and the e2e API tests also run through PgBouncer)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, cast

import asyncpg
import pytest
from sqlalchemy import Select, literal_column, select, text
from sqlalchemy.exc import DBAPIError

from adapters.persistence import (
    Database,
    SqlReadiness,
    SqlUnitOfWorkFactory,
    downgrade_to_base,
    head_revision,
    upgrade_to_head,
)
from adapters.persistence.executors import Prepared, Statement, executor_on
from adapters.persistence.migrations import ROOT
from domain.errors import StorageUnavailable
from domain.types import UserId
from domain.users import User
from tests.infra.pgbouncer import PgBouncer, pgbouncer
from tests.integration.sql_backends import database_for, fresh_postgres, hinted, migrated_postgres
from tests.integration.test_migrations import version_of

pytestmark = pytest.mark.postgres

# What the service sets on a direct session, which PgBouncer refuses as startup parameters;
# told to ignore them, it connects, and the settings are silently not applied.
SESSION_SETTINGS: Final = ("statement_timeout", "default_transaction_read_only", "plan_cache_mode")
POOLER: Final = [pytest.param(False, id="pooler mode off"), pytest.param(True, id="pooler mode on")]


@asynccontextmanager
async def bouncer(**options: Any) -> AsyncIterator[tuple[str, PgBouncer]]:
    """A migrated database of this test's own, and PgBouncer in transaction mode before it."""
    async with migrated_postgres() as url, pgbouncer(url, **options) as running:
        yield url, running


async def clients(running: PgBouncer, count: int) -> list[asyncpg.Connection]:
    """Plain asyncpg clients of the same PgBouncer, without named statements."""
    return [await asyncpg.connect(running.url, statement_cache_size=0) for _ in range(count)]


async def a_user(factory: SqlUnitOfWorkFactory) -> UserId:
    """A new committed user."""
    user = User(id=UserId(f"user-{uuid.uuid4().hex[:12]}"), created_at=datetime.now(UTC))
    async with factory() as work:
        await work.users.ensure(user)
        await work.commit()
    return user.id


async def run(database: Database, statement: Statement) -> Sequence[Any]:
    """`statement`'s rows, run as a unit of work's executor runs it (no commit)."""
    connection = await database.checkout()
    try:
        executor = await executor_on(connection, database.transactions)
        try:
            return await executor.fetch(statement)
        finally:
            await executor.rollback()
    finally:
        await database.checkin(connection, keep=False)


async def prepared_then_run_elsewhere(
    running: PgBouncer, factory: SqlUnitOfWorkFactory, *, holds: bool
) -> list[str]:
    """A read prepared on one of PgBouncer's two server connections, then run on the other: it
    answers there if `holds`, else its statement is missing there. The names of the statements
    on the first server connection (read through it)."""
    user_id = await a_user(factory)
    holder, taker = await clients(running, 2)
    try:
        await holder.execute("BEGIN")  # holds one of the two server connections
        async with factory() as work:  # prepared on the other one
            assert (await work.tasks.counts(user_id)).pending == 0
        await taker.execute("BEGIN")  # takes the one it was prepared on
        kept = [row["name"] for row in await taker.fetch("SELECT name FROM pg_prepared_statements")]
        await holder.execute("COMMIT")  # frees the one it was not prepared on
        async with factory() as work:
            if holds:
                assert (await work.tasks.counts(user_id)).pending == 0
            else:
                with pytest.raises(
                    asyncpg.InvalidSQLStatementNameError, match=r"__asyncpg_stmt_\w+__"
                ):
                    await work.tasks.counts(user_id)
        await taker.execute("COMMIT")
    finally:
        await holder.close()
        await taker.close()
    return kept


@pytest.mark.parametrize("pooled", POOLER)
async def test_a_statement_prepared_on_one_server_connection_is_missing_on_the_next(
    pooled: bool,
) -> None:
    """What asyncpg's statement cache does through a transaction pooler, unless pooler mode."""
    async with (
        bouncer(pool_size=2, ignore_startup_parameters=SESSION_SETTINGS) as (_, running),
        database_for(running.url, pool_size=1, pooler=pooled) as database,
    ):
        await prepared_then_run_elsewhere(running, SqlUnitOfWorkFactory(database), holds=pooled)


@pytest.mark.parametrize(
    "keeps", [pytest.param(False, id="Debian's 1.18"), pytest.param(True, id="1.21+ keeping them")]
)
async def test_named_statements_through_a_pooler_hold_only_where_it_keeps_them(
    keeps: bool,
) -> None:
    """DB_POOLER_PREPARED_STATEMENTS: the service names its statements, which a PgBouncer with
    max_prepared_statements prepares again on whichever server connection runs them (the
    server then parses each once per connection), and which Debian's PgBouncer 1.18 loses."""
    async with (
        bouncer(pool_size=2, prepared_statements=keeps) as (_, running),
        database_for(running.url, pool_size=1, pooler=True, pooler_prepares=True) as database,
    ):
        kept = await prepared_then_run_elsewhere(
            running, SqlUnitOfWorkFactory(database), holds=keeps
        )
        # Named on the server: PgBouncer's own names for the service's statements there.
        prefix = "PGBOUNCER_" if keeps else "__asyncpg_stmt_"
        assert kept
        assert all(name.startswith(prefix) for name in kept)


@pytest.mark.parametrize("pooled", POOLER)
async def test_session_settings_as_startup_parameters_are_refused_by_pgbouncer(
    pooled: bool,
) -> None:
    async with (
        bouncer() as (_, running),
        database_for(running.url, pooler=pooled) as database,
    ):
        factory = SqlUnitOfWorkFactory(database)
        if pooled:
            await a_user(factory)
            assert await SqlReadiness(database, head_revision()).is_ready()
        else:
            with pytest.raises(StorageUnavailable) as refused:
                await a_user(factory)
            assert "unsupported startup parameter" in str(refused.value.__cause__)


NEXTVAL: Final[Select[Any]] = select(literal_column("nextval('tasks_id_seq')"))
"""A select that writes (it advances a sequence), which a read-only transaction refuses."""


@pytest.mark.parametrize("pooled", POOLER)
@pytest.mark.parametrize("built", ["prepared", "per call"])
async def test_reads_cannot_write_through_the_pooler_only_in_pooler_mode(
    pooled: bool, built: str
) -> None:
    """A statement taken for a read that writes is refused, as on a direct read-only session."""
    statement: Statement = Prepared(NEXTVAL) if built == "prepared" else NEXTVAL
    async with (
        bouncer(ignore_startup_parameters=SESSION_SETTINGS) as (_, running),
        database_for(running.url, pooler=pooled) as database,
    ):
        if not pooled:
            # The session settings were dropped: the read wrote, and committed on its own.
            assert (await run(database, statement))[0][0] == 1
            return
        refused = asyncpg.ReadOnlySQLTransactionError if built == "prepared" else DBAPIError
        with pytest.raises(refused, match="read-only transaction"):
            await run(database, statement)
        async with database.connection() as connection:
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await connection.execute(NEXTVAL)


SLEEP: Final[Select[Any]] = select(literal_column("pg_sleep(1)"))


@pytest.mark.parametrize("pooled", [*POOLER, pytest.param("named", id="pooler mode, named")])
@pytest.mark.parametrize("built", ["prepared", "per call"])
async def test_the_statement_timeout_holds_through_the_pooler_only_in_pooler_mode(
    pooled: bool | str, built: str
) -> None:
    """`named`: statements named through a PgBouncer that keeps them (the timeout alike)."""
    statement: Statement = Prepared(SLEEP) if built == "prepared" else SLEEP
    named = pooled == "named"
    async with (
        bouncer(ignore_startup_parameters=SESSION_SETTINGS, prepared_statements=named) as (
            _,
            running,
        ),
        database_for(
            running.url, pooler=bool(pooled), pooler_prepares=named, statement_timeout_ms=200
        ) as database,
    ):
        started = time.monotonic()
        if pooled:
            with pytest.raises(StorageUnavailable):
                await run(database, statement)
            assert time.monotonic() - started < 0.9
        else:
            await run(database, statement)  # the whole second
            assert time.monotonic() - started >= 1


SHOWN: Final = (
    "pg_backend_pid()",
    "current_setting('statement_timeout')",
    "current_setting('transaction_read_only')",
)
SHOW: Final = cast("Select[Any]", select(*map(literal_column, SHOWN)))
OWN_SETTINGS: Final[dict[str, tuple[Statement, str]]] = {
    # SQL text counts as writing: it runs in a transaction begun READ WRITE.
    "write": (Prepared(text(f"SELECT {', '.join(SHOWN)}")), "off"),
    "prepared read": (Prepared(SHOW), "on"),
    "read per call": (SHOW, "on"),
}


async def test_no_setting_of_the_services_reaches_another_client_of_the_pooler() -> None:
    """One server connection, used in turn by the service and by another client."""
    async with (
        bouncer(pool_size=1) as (_, running),
        database_for(hinted(running.url), statement_timeout_ms=1234) as database,
    ):
        [other] = await clients(running, 1)
        try:
            for statement, read_only in OWN_SETTINGS.values():
                [(backend, timeout, inside_read_only)] = await run(database, statement)
                assert (timeout, inside_read_only) == ("1234ms", read_only)
                seen = await other.fetchrow(f"SELECT {', '.join(SHOWN)}")
                assert tuple(seen or ()) == (backend, "0", "off")
        finally:
            await other.close()


async def test_dedicated_connections_go_to_the_direct_url_never_through_the_pooler() -> None:
    async with bouncer() as (direct, running):
        async with database_for(hinted(running.url)) as database:
            with pytest.raises(RuntimeError, match="set DATABASE_DIRECT_URL"):
                async with database.dedicated():
                    pass
        heard: asyncio.Queue[str] = asyncio.Queue()
        async with (
            database_for(hinted(running.url), direct_url=direct) as database,
            database.dedicated() as listener,
            database.dedicated() as speaker,
        ):
            # Through PgBouncer this startup parameter would have been refused.
            assert await listener.fetchval("SHOW default_transaction_read_only") == "on"
            await listener.add_listener("changes", lambda *args: heard.put_nowait(args[-1]))
            await speaker.execute("NOTIFY changes, 'task 1'")
            async with asyncio.timeout(2):
                assert await heard.get() == "task 1"


def command_line(kind: str) -> list[str]:
    """The service's `migrate` command, or Alembic's own."""
    if kind == "migrate":
        return [sys.executable, "-m", "taskservice.cli", "migrate"]
    return [sys.executable, "-m", "alembic", "upgrade", "head"]


async def migrating(kind: str, cwd: Path, **settings: str) -> str:
    """Run a migration command with only these settings; its output, once it succeeded."""
    env = {"PATH": os.environ.get("PATH", ""), "DATA_DIR": str(cwd), **settings}
    process = await asyncio.create_subprocess_exec(
        *command_line(kind),
        cwd=ROOT if kind == "alembic" else cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    return output


@pytest.mark.parametrize("kind", ["migrate", "alembic"])
async def test_without_a_direct_url_migrations_run_through_the_pooler(
    kind: str, tmp_path: Path
) -> None:
    """In one transaction, which the pooler keeps on one server connection."""
    async with fresh_postgres() as direct, pgbouncer(direct, pool_size=2) as running:
        pooled = hinted(running.url)
        output = await migrating(kind, tmp_path, DATABASE_URL=pooled)
        assert await version_of(direct) == [head_revision()]
        if kind == "migrate":
            assert "migrating through the transaction pooler" in output
        await asyncio.to_thread(downgrade_to_base, pooled)
        assert await version_of(direct) == []
        await asyncio.to_thread(upgrade_to_head, pooled)
        assert await version_of(direct) == [head_revision()]


@pytest.mark.parametrize("kind", ["migrate", "alembic"])
async def test_with_a_direct_url_migrations_run_there(kind: str, tmp_path: Path) -> None:
    # DATABASE_URL's pooler does not even answer: only the direct URL can have been used.
    unreachable = "postgresql://postgres@127.0.0.1:1/tasks?pgbouncer=true"
    async with fresh_postgres() as direct:
        await migrating(kind, tmp_path, DATABASE_URL=unreachable, DATABASE_DIRECT_URL=direct)
        assert await version_of(direct) == [head_revision()]


async def test_plain_selects_hold_no_server_connection_between_statements() -> None:
    """Only a plain select runs outside a transaction; any other read holds one READ ONLY."""
    async with (
        bouncer(pool_size=1) as (_, running),
        database_for(hinted(running.url)) as database,
    ):
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        [other] = await clients(running, 1)
        try:
            async with factory() as work:
                await work.tasks.counts(user_id)  # plain: a round trip of its own
                async with asyncio.timeout(2):
                    assert await other.fetchval("SELECT 1") == 1
                await work.users.get(user_id)  # built per call: in a transaction
                waiting = asyncio.ensure_future(other.fetchval("SELECT 2"))
                await asyncio.sleep(0.3)
                assert not waiting.done()  # the only server connection is the unit of work's
            async with asyncio.timeout(2):
                assert await waiting == 2
        finally:
            await other.close()


WAITING_FOR_A_LOCK: Final = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


async def gone_within(seconds: float, count: Callable[[], Awaitable[int]]) -> bool:
    """Whether `count()` comes to 0 within `seconds`."""
    deadline = time.monotonic() + seconds
    while await count():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
async def test_the_client_cancels_a_plain_select_that_outlasts_the_statement_timeout(
    named: bool,
) -> None:
    """`named`: through a PgBouncer that keeps prepared statements, the service naming them."""
    async with (
        bouncer(prepared_statements=named) as (direct, running),
        database_for(
            hinted(running.url), pooler_prepares=named, statement_timeout_ms=300
        ) as database,
    ):
        factory = SqlUnitOfWorkFactory(database)
        user_id = await a_user(factory)
        locker = await asyncpg.connect(direct)
        try:
            async with locker.transaction():
                await locker.execute("LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                with pytest.raises(StorageUnavailable):
                    async with factory() as work:
                        await work.tasks.counts(user_id)
                assert time.monotonic() - started < 1.5
                # Cancelled on the server too, not only given up on (asyncpg asks at once).
                assert await gone_within(1.0, lambda: locker.fetchval(WAITING_FOR_A_LOCK))
            async with factory() as work:
                assert (await work.tasks.counts(user_id)).pending == 0
        finally:
            await locker.close()
