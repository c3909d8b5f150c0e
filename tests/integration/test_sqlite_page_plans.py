"""SQLite's plans of a page: the user's memberships by index, then per list a correlated keyset
search of the list's index (SQLite has no LATERAL), the rows by rowid; no table scanned whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.persistence.repositories import STATEMENTS
from domain.queries import SortField, Status
from tests.integration.sql_backends import migrated_sqlite

_DIALECT = sqlite.dialect()


@pytest.mark.parametrize("one_list", [False, True], ids=["all lists", "one list"])
@pytest.mark.parametrize("field", [f for f in SortField if f is not SortField.DUE], ids=str)
async def test_a_page_searches_each_list_by_its_index(
    tmp_path: Path, field: SortField, one_list: bool
) -> None:
    url = await migrated_sqlite(tmp_path)
    shape = (field, True, Status.PENDING, True, True, one_list, "none")
    compiled = STATEMENTS["sqlite"].pages.simple(shape).statement.compile(dialect=_DIALECT)
    assert isinstance(compiled, SQLCompiler)
    values = {"user_id": "u", "list_id": 1, "after_value": "a", "after_id": 5, "limit": 51}
    arguments = [values.get(name, 0) for name in compiled.positiontup or ()]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        steps = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {compiled}", arguments)]
    assert not [step for step in steps if step.startswith("SCAN") and step != "SCAN scope"]
    assert any(s.startswith("SEARCH memberships USING COVERING INDEX") for s in steps), steps
    assert any(s.startswith("CORRELATED LIST SUBQUERY") for s in steps), steps
    index = f"ix_tasks_list_id_{field.value}_id"
    assert any(s.startswith(f"SEARCH tasks USING INDEX {index} (list_id=?") for s in steps), steps
    assert "SEARCH shown USING INTEGER PRIMARY KEY (rowid=?)" in steps
