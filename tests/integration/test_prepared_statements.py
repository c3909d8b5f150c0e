"""Prepared statements know whether they write, and their rows need no processing on asyncpg."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from sqlalchemy import (
    Column,
    Dialect,
    MetaData,
    String,
    Table,
    TypeDecorator,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.sql import Executable

from adapters.persistence import repositories
from adapters.persistence.executors import Prepared
from adapters.persistence.tables import idempotency_keys, tasks, users
from domain.queries import SortField, Status
from tests.integration.sql_backends import database_for


def every_prepared_statement() -> list[Prepared]:
    """The repositories' prepared statements: module constants, each dialect's, every page."""
    constants = [v for v in vars(repositories).values() if isinstance(v, Prepared)]
    by_dialect = [
        statement
        for statements in repositories.STATEMENTS.values()
        for value in attrs.asdict(statements, recurse=False).values()
        for statement in (value if isinstance(value, tuple) else (value,))
        if isinstance(statement, Prepared)
    ]
    sorted_by = [field for field in SortField if field is not SortField.DUE]
    flags = (False, True)
    pages = [
        repositories.page_statement(*shape)
        for shape in itertools.product(sorted_by, flags, Status, flags, flags)
    ]
    return constants + by_dialect + pages


def test_no_prepared_statement_has_a_column_that_needs_processing_on_asyncpg() -> None:
    # Their rows come straight from asyncpg: a column type's process_result_value would be
    # skipped there, and the same statement would read differently on SQLite.
    dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
    statements = every_prepared_statement()
    assert len(statements) > 100
    for prepared in statements:
        for column in getattr(prepared.statement, "exported_columns", ()):
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            assert processor is None, f"{column} of {prepared.statement}"


class Shouting(TypeDecorator[str]):
    """A type that changes what it reads."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Upper case."""
        return None if value is None else value.upper()


def test_a_column_type_that_processes_results_is_refused() -> None:
    table = Table("shouts", MetaData(), Column("word", Shouting))
    with pytest.raises(TypeError, match="needs result processing"):
        Prepared(select(table.c.word))
    # Written, it is fine: bind processors are applied on every path.
    assert Prepared(table.insert().values(word="hi")).writes


def test_a_statement_knows_whether_it_writes() -> None:
    cte = users.insert().values(id="u").returning(users.c.id).cte("made")
    doomed = select(idempotency_keys.c.key).limit(5).with_for_update(skip_locked=True)
    writes: dict[str, Executable] = {
        "insert": users.insert().values(id="u"),
        "update": users.update().values(name="n"),
        "delete": users.delete(),
        "select from a DML CTE": select(cte.c.id),
        "select beside a DML CTE": select(users.c.id).add_cte(cte),
        "select for update": select(users.c.id).with_for_update(),
        "select for share": select(users.c.id).with_for_update(read=True),
        "delete with a locking subquery": idempotency_keys.delete().where(
            idempotency_keys.c.key.in_(doomed)
        ),
        "text, which cannot be read": text("SELECT 1"),
    }
    reads: dict[str, Executable] = {
        "select": select(tasks.c.id).where(tasks.c.user_id == "u"),
        "select with a subquery": select(users.c.id).where(users.c.id.in_(select(tasks.c.user_id))),
        "a page": repositories.page_statement(
            SortField.TITLE, True, Status.PENDING, True, True
        ).statement,
    }
    assert {name for name, s in (writes | reads).items() if Prepared(s).writes} == set(writes)
    # Through a transaction pooler only plain selects run outside a transaction: nothing in
    # them can write. A function may (nextval, or one defined in the database), literal SQL too.
    acting: dict[str, Executable] = {
        "a function": select(func.lower(users.c.email)),
        "a function in a condition": select(users.c.id).where(func.nextval("s") > 0),
        "literal SQL": select(literal_column("nextval('s')")),
    }
    plain = {name for name, s in (writes | reads | acting).items() if Prepared(s).plain}
    assert plain == set(reads)


@pytest.mark.postgres
async def test_asyncpg_reads_every_moment_aware_in_utc_whatever_the_session_zone(
    postgres_url: str,
) -> None:
    # Why UtcDateTime needs no processing on asyncpg (tables.UtcDateTime.result_processor).
    async with database_for(postgres_url) as database, database.dedicated() as connection:
        await connection.execute("SET TIME ZONE 'Asia/Kolkata'")
        moment: Any = await connection.fetchval("SELECT '2030-01-01 05:30+05:30'::timestamptz")
    assert moment == datetime(2030, 1, 1, tzinfo=UTC)
    assert moment.tzinfo is UTC
