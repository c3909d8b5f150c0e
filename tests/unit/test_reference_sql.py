"""The bench's reference app runs the service's own SQL: its copies equal what the service's
adapter compiles for asyncpg, character for character, so that the ratios compare like work."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects.postgresql import asyncpg

from adapters.persistence import changes, lists, tasks
from adapters.persistence.executors import Prepared
from adapters.persistence.repositories import STATEMENTS
from bench import reference_sql
from domain.queries import SortField, Status

_DIALECT = asyncpg.dialect()  # type: ignore[no-untyped-call]
_POSTGRES = STATEMENTS["postgresql"]


def compiled(statement: Prepared) -> str:
    """The SQL the service sends."""
    return statement.compiled(_DIALECT).sql


@pytest.mark.parametrize("one_list", [False, True])
@pytest.mark.parametrize("after", [False, True])
def test_the_reference_pages_as_the_service_does(one_list: bool, after: bool) -> None:
    # The bench's list scenarios: newest first, every list or one, first page or continued.
    shape = (SortField.CREATED_AT, True, Status.ALL, after, True, one_list, "any")
    service = compiled(_POSTGRES.pages.simple(shape))
    assert reference_sql.page_sql(one_list=one_list, after=after) == service


@pytest.mark.parametrize("one_list", [False, True])
def test_the_reference_counts_as_the_service_does(one_list: bool) -> None:
    assert reference_sql.counts_sql(one_list=one_list) == compiled(tasks.COUNTS[one_list])


def test_the_reference_reads_a_task_a_list_and_a_position_as_the_service_does() -> None:
    assert compiled(tasks.GET_VISIBLE) == reference_sql.GET_VISIBLE
    assert compiled(lists.ACCESS) == reference_sql.ACCESS
    assert compiled(lists.DEFAULT_LIST) == reference_sql.DEFAULT_LIST
    assert compiled(tasks.LAST_POSITION["none"]) == reference_sql.LAST_POSITION


def test_the_reference_writes_as_the_service_does() -> None:
    [add] = _POSTGRES.add_task
    [recount] = _POSTGRES.recount_task
    assert reference_sql.insert_sql() == compiled(add)
    assert reference_sql.update_sql() == compiled(recount)


def test_the_reference_reads_the_change_feed_as_the_service_does() -> None:
    assert compiled(changes.FEED["postgresql"]) == reference_sql.FEED
    assert compiled(changes.HORIZON) == reference_sql.HORIZON
