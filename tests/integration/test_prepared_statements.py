"""Prepared statements know whether they write, and their rows need no processing on asyncpg."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, Final

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

from adapters.persistence import changes, repositories
from adapters.persistence import lists as lists_module
from adapters.persistence import tasks as tasks_module
from adapters.persistence.executors import Prepared
from adapters.persistence.tables import idempotency_keys, tasks, users
from domain.queries import SortField, Status
from tests.integration.sql_backends import database_for

SHAPES: Final = list(
    itertools.product(
        [field for field in SortField if field is not SortField.DUE],
        (False, True),
        Status,
        (False, True),
        (False, True),
        (False, True),
        ["any", "none", "task"],
    )
)


def _prepared_in(value: object) -> list[Prepared]:
    # A statement, or the statements in a tuple (Steps) or dictionary (by dialect or shape).
    if isinstance(value, Prepared):
        return [value]
    if isinstance(value, tuple | list):
        return [s for item in value for s in _prepared_in(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _prepared_in(item)]
    return []


def every_prepared_statement() -> list[Prepared]:
    """The repositories' prepared statements: module constants, each dialect's, every page."""
    constants = [
        statement
        for module in (repositories, tasks_module, lists_module)
        for value in vars(module).values()
        for statement in _prepared_in(value)
    ]
    by_dialect = [
        statement
        for statements in repositories.STATEMENTS.values()
        for value in attrs.asdict(statements, recurse=False).values()
        for statement in _prepared_in(value)
    ]
    pages = [
        statements.pages.simple(shape)
        for statements in repositories.STATEMENTS.values()
        for shape in SHAPES
    ]
    return constants + by_dialect + pages


def postgres_statements() -> list[Prepared]:
    """The prepared statements that run on asyncpg: all but SQLite's own."""
    constants = [
        statement
        for module in (repositories, tasks_module, lists_module)
        for name, value in vars(module).items()
        if "SQLITE" not in name
        for statement in _prepared_in(value.get("postgresql") if _by_dialect(value) else value)
    ]
    postgres = repositories.STATEMENTS["postgresql"]
    by_dialect = _prepared_in(list(attrs.asdict(postgres, recurse=False).values()))
    return constants + by_dialect + [postgres.pages.simple(shape) for shape in SHAPES]


def _by_dialect(value: object) -> bool:
    return isinstance(value, dict) and set(value) == set(repositories.STATEMENTS)


def test_every_prepared_statement_takes_all_its_arguments_from_the_call() -> None:
    # On asyncpg only the call's parameters become arguments: a constant (literal()) would
    # have none, and is refused when compiled; constants are written in SQL (literal_column).
    dialect = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
    for prepared in postgres_statements():
        assert prepared.compiled(dialect).sql


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
        "a task with its role": tasks_module.GET_VISIBLE.statement,
        "select with a subquery": select(users.c.id).where(users.c.id.in_(select(tasks.c.user_id))),
        "a page": repositories.STATEMENTS["postgresql"]
        .pages.simple((SortField.TITLE, True, Status.PENDING, True, True, False, "any"))
        .statement,
        # Kinds in quotes, count(*), the snapshot's running transactions and xmax.
        "a change feed page": changes.FEED["postgresql"].statement,
    }
    assert {name for name, s in (writes | reads).items() if Prepared(s).writes} == set(writes)
    # Through a transaction pooler only plain selects run outside a transaction: nothing in
    # them can write. A function may (nextval, or one defined in the database), literal SQL too;
    # a page's sum and coalesce of its lists' counters, and a literal number, cannot.
    acting: dict[str, Executable] = {
        "a function": select(func.lower(users.c.email)),
        "a function in a sum": select(func.sum(func.length(users.c.email))),
        "a function in a condition": select(users.c.id).where(func.nextval("s") > 0),
        "literal SQL": select(literal_column("nextval('s')")),
        "literal SQL in quotes": select(literal_column("'a' || nextval('s')")),
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
