"""The rows of a list page: top-level tasks with their subtasks under them, and the `after`
each reorder button sends to move a task one place up or down among its siblings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from domain.tasks import Task

FIRST: Final = "first"
"""The form value of `after` that puts a task first among its siblings."""
TOP_LEVEL: Final = "none"
"""The form value of `parent_id` that makes a task top-level."""


@attrs.frozen(kw_only=True)
class Row:
    """A task as the page shows it, with its subtasks when they follow it on the page.

    `parent` is the parent of a subtask shown apart from it (another order, or the parent on
    another page or filtered out): the parent task when it is on the page, else None.
    `up`/`down` are the `after` values that move the task one place (None: no button).
    """

    task: Task
    subtasks: tuple[Row, ...] = ()
    apart: bool = False
    parent: Task | None = None
    up: str | None = None
    down: str | None = None


@attrs.define
class _Group:
    task: Task
    subtasks: list[Task] = attrs.Factory(list)
    apart: bool = False


def outline(tasks: Sequence[Task], *, reorderable: bool, first_page: bool) -> list[Row]:
    """The rows of `tasks` in their order; reorder values only when `reorderable` (the page
    shows the list's own order and the visitor may write).

    The first task of a later page cannot move up by a button: its predecessor is on the page
    before, and so `after` could not name it.
    """
    by_id = {task.id: task for task in tasks}
    groups: list[_Group] = []
    for task in tasks:
        if task.parent_id is not None and groups and groups[-1].task.id == task.parent_id:
            groups[-1].subtasks.append(task)
        else:
            groups.append(_Group(task, apart=task.parent_id is not None))
    top = [g.task for g in groups if not g.apart]
    rows = []
    for group in groups:
        if group.apart:
            parent = by_id.get(group.task.parent_id) if group.task.parent_id else None
            rows.append(Row(task=group.task, apart=True, parent=parent))
            continue
        subtasks = tuple(
            _row(group.subtasks, i, reorderable=reorderable, first_page=True)
            for i in range(len(group.subtasks))
        )
        row = _row(top, top.index(group.task), reorderable=reorderable, first_page=first_page)
        rows.append(attrs.evolve(row, subtasks=subtasks))
    return rows


def _row(siblings: Sequence[Task], index: int, *, reorderable: bool, first_page: bool) -> Row:
    """Sibling `index` of `siblings`, with the `after` values of its reorder buttons."""
    task = siblings[index]
    if not reorderable:
        return Row(task=task)
    up: str | None = None
    if index >= 2:
        up = str(siblings[index - 2].id)
    elif index == 1 and first_page:
        up = FIRST
    down = str(siblings[index + 1].id) if index + 1 < len(siblings) else None
    return Row(task=task, up=up, down=down)
