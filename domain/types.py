"""The small vocabulary of identifier types shared by every ring."""

from typing import NewType

UserId = NewType("UserId", str)
TaskId = NewType("TaskId", int)

MAX_TASK_ID = 2**63 - 1
