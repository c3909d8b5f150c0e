"""The rows of a list page: subtasks under their parent, and the `after` of each reorder button."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.web.outline import FIRST, Row, outline
from domain.tasks import Task
from domain.types import ListId, TaskId, UserId

NOW = datetime(2030, 3, 10, tzinfo=UTC)


def task(number: int, parent: int | None = None) -> Task:
    return Task(
        TaskId(number),
        UserId("alice"),
        f"t{number}",
        NOW,
        NOW,
        list_id=ListId(1),
        parent_id=None if parent is None else TaskId(parent),
        position="a0",
    )


def moves(rows: list[Row] | tuple[Row, ...]) -> list[tuple[int, str | None, str | None]]:
    return [(row.task.id, row.up, row.down) for row in rows]


def test_subtasks_that_follow_their_parent_go_under_it() -> None:
    rows = outline([task(1), task(2, 1), task(3, 1), task(4)], reorderable=False, first_page=True)
    assert [row.task.id for row in rows] == [1, 4]
    assert [sub.task.id for sub in rows[0].subtasks] == [2, 3]
    assert moves(rows) == [(1, None, None), (4, None, None)]


def test_up_goes_after_the_task_two_places_up_and_down_after_the_next() -> None:
    rows = outline([task(1), task(2), task(3), task(4)], reorderable=True, first_page=True)
    assert moves(rows) == [(1, None, "2"), (2, FIRST, "3"), (3, "1", "4"), (4, "2", None)]


def test_subtasks_move_among_their_siblings_only() -> None:
    rows = outline(
        [task(1), task(2, 1), task(3, 1), task(4), task(5, 4)], reorderable=True, first_page=True
    )
    assert moves(rows) == [(1, None, "4"), (4, FIRST, None)]
    assert moves(rows[0].subtasks) == [(2, None, "3"), (3, FIRST, None)]
    assert moves(rows[1].subtasks) == [(5, None, None)]


def test_on_a_later_page_the_first_two_cannot_move_up_to_the_top() -> None:
    # The task before this page's first is on the page before: "first" would overshoot it.
    rows = outline([task(7), task(8), task(9)], reorderable=True, first_page=False)
    assert moves(rows) == [(7, None, "8"), (8, None, "9"), (9, "7", None)]


def test_a_subtask_apart_from_its_parent_says_whose_it_is() -> None:
    # Another order, or a parent filtered out or on another page.
    rows = outline([task(2, 1), task(3), task(1), task(4, 9)], reorderable=False, first_page=True)
    assert [(row.task.id, row.apart) for row in rows] == [
        (2, True),
        (3, False),
        (1, False),
        (4, True),
    ]
    assert rows[0].parent is not None
    assert rows[0].parent.id == 1
    assert rows[3].parent is None
    assert moves(rows) == [(2, None, None), (3, None, None), (1, None, None), (4, None, None)]
