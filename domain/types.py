"""The small vocabulary of identifier types shared by every ring."""

import re
from typing import Final, NewType

UserId = NewType("UserId", str)
TaskId = NewType("TaskId", int)

MAX_TASK_ID = 2**63 - 1

_TASK_ID: Final = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)


def parse_task_id(text: str) -> TaskId | None:
    """The id `text` names if it is a positive 64-bit integer in plain decimal digits, else None.

    One spelling per id: no sign, no leading zero, no other script's digits.
    """
    if _TASK_ID.fullmatch(text) and int(text) <= MAX_TASK_ID:
        return TaskId(int(text))
    return None
