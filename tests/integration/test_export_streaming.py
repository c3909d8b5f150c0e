"""The export of SPEC §10 on PostgreSQL: a user with many tasks is written a page at a time,
in bounded memory, every task once and in order."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from adapters.persistence import SqlUnitOfWorkFactory
from domain.types import UserId
from domain.users import Principal
from taskservice.services import YourDataUseCases
from taskservice.services.your_data import PAGE_SIZE
from tests.clock import FakeClock
from tests.integration.sql_backends import database_for, migrated_postgres

pytestmark = pytest.mark.postgres

TASKS = 30_000
OWNER = UserId("exporter")
NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def seed(url: str) -> None:
    """One user with TASKS tasks, written by the database itself in one statement."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("INSERT INTO users (id, created_at) VALUES ($1, $2)", OWNER, NOW)
        inbox = await connection.fetchval(
            "INSERT INTO lists (owner_id, name, is_default, version, pending, created_at,"
            " updated_at) VALUES ($1, 'Inbox', true, 1, $3, $2, $2) RETURNING id",
            OWNER,
            NOW,
            TASKS,
        )
        await connection.execute(
            "INSERT INTO memberships (list_id, user_id, role, joined_at)"
            " VALUES ($1, $2, 'owner', $3)",
            inbox,
            OWNER,
            NOW,
        )
        await connection.execute(
            """
            INSERT INTO tasks (user_id, title, description, completed, priority, tags, version,
                               created_at, updated_at, search_text, list_id, position,
                               created_by)
            SELECT $1, 'task ' || n, repeat('d', 200), false, 0, '["home"]'::jsonb, 1,
                   $2::timestamptz + n * interval '1 millisecond', $2, 'task ' || n, $4,
                   'a' || lpad(n::text, 6, '0'), $1
            FROM generate_series(1, $3) AS n
            """,
            OWNER,
            NOW,
            TASKS,
            inbox,
        )
    finally:
        await connection.close()


async def test_a_large_export_is_read_in_pages_in_bounded_memory() -> None:
    async with migrated_postgres() as url:
        await seed(url)
        async with database_for(url) as database:
            use_case = YourDataUseCases(uow=SqlUnitOfWorkFactory(database), clock=FakeClock(NOW))
            export = await use_case.export(Principal(user_id=OWNER))
            pieces, size, first_ids, last = 0, 0, [], b""
            tracemalloc.start()
            try:
                async for piece in export.document(orjson.dumps):
                    pieces += 1
                    size += len(piece)
                    if pieces == 2:
                        first_ids = [t["id"] for t in orjson.loads(b"[" + piece + b"]")][:3]
                    last = piece
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    # The head, one piece per page, the (empty) trash's opening, the end.
    assert pieces == 3 + TASKS // PAGE_SIZE
    assert last == b"]}"
    assert first_ids == sorted(first_ids)
    assert size > 8_000_000
    # A page at a time: never as much as half of the document is held (its 30,000 tasks as
    # rows and objects would take several times the document itself); 4.7 MB of 14.2 MB seen.
    assert peak < size / 2, (peak, size)
