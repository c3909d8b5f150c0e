"""The tasks table hash-partitioned by owner, and a watch on which partitions statements touch.

The README's plan beyond one database says every statement on tasks names its owner, so that
tasks can be hash-partitioned (or distributed, Citus) by owner. The behaviour suite runs on
`migrated_partitioned_postgres()`; `PartitionWatch` records every statement on tasks the
service sends and EXPLAINs each with its own arguments: none may reach two partitions.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.sql_backends import migrated_postgres

PARTITIONS: Final = 4
ON_TASKS: Final = re.compile(r"\btasks\b")
SAMPLES: Final = 3
"""Argument sets kept per statement text: each is EXPLAINed."""


@asynccontextmanager
async def migrated_partitioned_postgres() -> AsyncIterator[str]:
    """A PostgreSQL database at the latest migration whose tasks are hash-partitioned by owner."""
    async with migrated_postgres() as url:
        connection = await asyncpg.connect(url)
        try:
            async with connection.transaction():
                await partition_tasks_by_owner(connection)
        finally:
            await connection.close()
        yield url


async def partition_tasks_by_owner(connection: asyncpg.Connection) -> None:
    """Rebuild the (empty) migrated `tasks` table hash-partitioned by `user_id`, with the same
    columns, checks and indexes.

    A partitioned table's unique keys must hold the partition key, so the primary key becomes
    (user_id, id); ids still come from one sequence (PostgreSQL 15 has no identity columns on
    partitioned tables), so they stay unique across partitions.
    """
    await connection.execute(
        "ALTER TABLE tasks RENAME TO tasks_plain;"
        "CREATE SEQUENCE tasks_partitioned_id_seq AS bigint;"
        "CREATE TABLE tasks (LIKE tasks_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY HASH (user_id);"
        "ALTER TABLE tasks ALTER COLUMN id SET DEFAULT nextval('tasks_partitioned_id_seq');"
        "ALTER SEQUENCE tasks_partitioned_id_seq OWNED BY tasks.id"
    )
    indexes = await connection.fetch(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'tasks_plain'"
        " AND indexname <> 'pk_tasks'"
    )
    await connection.execute("DROP TABLE tasks_plain")
    for (definition,) in indexes:
        await connection.execute(definition.replace(" ON public.tasks_plain ", " ON public.tasks "))
    await connection.execute(
        "ALTER TABLE tasks ADD CONSTRAINT pk_tasks PRIMARY KEY (user_id, id),"
        " ADD CONSTRAINT fk_tasks_user_id_users FOREIGN KEY (user_id)"
        " REFERENCES users (id) ON DELETE CASCADE"
    )
    for remainder in range(PARTITIONS):
        await connection.execute(
            f"CREATE TABLE tasks_p{remainder} PARTITION OF tasks"
            f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder})"
        )


class PartitionWatch:
    """Every statement on tasks an engine sends, with a few of its argument sets."""

    def __init__(self) -> None:
        self.sent: dict[str, list[Sequence[Any]]] = {}

    def watch(self, engine: AsyncEngine) -> None:
        """Record what `engine`'s connections send: SQLAlchemy's statements, and the
        prepared ones the executors send to asyncpg directly (its query loggers)."""

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(
                lambda logged: self._record(logged.query, logged.args)
            )

        def on_execute(*args: Any) -> None:
            _connection, _cursor, statement, parameters = args[:4]
            self._record(statement, parameters)

        event.listen(engine.sync_engine, "connect", on_connect)
        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)

    def _record(self, query: str, args: Sequence[Any] | None) -> None:
        if ON_TASKS.search(query):
            samples = self.sent.setdefault(query, [])
            if len(samples) < SAMPLES:
                samples.append(tuple(args or ()))

    async def partitions_reached(self, url: str) -> dict[str, list[set[str]]]:
        """Each statement, and the partitions the plan of each of its argument sets reaches."""
        # Unnamed statements: each EXPLAIN plans with its arguments, as the first runs did.
        connection = await asyncpg.connect(url, statement_cache_size=0)
        reached: dict[str, list[set[str]]] = {}
        try:
            for query, samples in self.sent.items():
                for args in samples:
                    plan = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
                    found = {n for n in _relations(json.loads(plan)) if n.startswith("tasks_p")}
                    reached.setdefault(" ".join(query.split()), []).append(found)
        finally:
            await connection.close()
        return reached


def _relations(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "Relation Name" in node:
            yield node["Relation Name"]
        for value in node.values():
            yield from _relations(value)
    elif isinstance(node, list):
        for item in node:
            yield from _relations(item)
