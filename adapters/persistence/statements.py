"""What every SQL repository shares: the set of statements that differ by dialect, and running them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
from sqlalchemy import ColumnElement

from adapters.persistence.executors import Executor, Params, Prepared, Row
from adapters.persistence.pages import Pages
from domain.lists import Role
from taskservice.ports import Touched

Steps = tuple[Prepared, ...]
"""Statements run in order, each with the same parameters; what the last one run returns is the
answer. A step that returns rows (a select, or RETURNING) and returns none ends the run there.

PostgreSQL does in one statement, with CTEs, what SQLite does in two or three.
"""


@attrs.frozen(kw_only=True)
class Statements:
    """The statements whose SQL differs between dialects: one set per dialect, same names."""

    add_task: Steps
    recount_task: Steps
    move_task: Steps
    delete_task: Steps
    pages: Pages
    trash_page: Callable[[frozenset[Role], bool], Prepared]
    any_tag: Callable[[tuple[str, ...]], ColumnElement[bool]]
    add_list: Steps
    add_default_list: Steps
    replace_list: Steps
    remove_list: Steps
    add_member: Steps
    set_role: Steps
    remove_member: Steps
    remove_user: Steps
    feed: Prepared
    purge: Steps
    bump: Steps
    restore_task: Prepared
    recount_restored: Prepared
    ensure_user: Prepared
    add_account: Prepared
    claim_record: Prepared
    end_session: Prepared
    add_identity: Prepared


class SqlRepository:
    """Runs statements through a unit of work's executor, in its dialect."""

    def __init__(
        self, executor: Executor, statements: Statements, touched: Touched | None = None
    ) -> None:
        self._fetch = executor.fetch
        self._sql = statements
        # What the writes touched, for live events after the commit (one per unit of work).
        self._touched = Touched() if touched is None else touched

    async def _steps(self, steps: Steps, params: Params) -> Sequence[Row]:
        rows: Sequence[Row] = ()
        for statement in steps:
            rows = await self._fetch(statement, params)
            if statement.returns_rows and not rows:
                break
        return rows

    async def _one(self, statement: Prepared, params: Params) -> Any:
        # The single value of a statement that always returns one row (a count).
        rows = await self._fetch(statement, params)
        return rows[0][0]
