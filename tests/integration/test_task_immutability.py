"""Task is immutable: the type checker refuses an assignment to a field, and so does the run time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from mypy import api

from domain.tasks import Task
from domain.types import TaskId, UserId

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_assigning_to_a_field_of_a_task_is_a_type_error(tmp_path: Path) -> None:
    snippet = tmp_path / "mutates_a_task.py"
    snippet.write_text(
        "from domain.tasks import Task\n\n\n"
        "def rename(task: Task) -> None:\n"
        '    task.title = "renamed"\n'
    )
    report, _, status = api.run(["--strict", "--config-file=pyproject.toml", str(snippet)])
    assert status == 1
    assert 'Property "title" defined in "Task" is read-only' in report


@pytest.mark.parametrize("field", [f.name for f in attrs.fields(Task)])
def test_assigning_to_a_field_of_a_task_raises(field: str) -> None:
    task = Task(id=TaskId(1), user_id=UserId("u"), title="t", created_at=NOW, updated_at=NOW)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(task, field, getattr(task, field))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        delattr(task, field)
    assert task.title == "t"


def test_tasks_are_equal_and_hash_alike_by_value() -> None:
    task = Task(id=TaskId(1), user_id=UserId("u"), title="t", created_at=NOW, updated_at=NOW)
    same = attrs.evolve(task)
    assert same == task
    assert same is not task
    assert hash(same) == hash(task)
    assert attrs.evolve(task, title="other") != task
