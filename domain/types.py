"""The small vocabulary of identifier types shared by every ring."""

import re
from typing import Final, NewType

UserId = NewType("UserId", str)
TaskId = NewType("TaskId", int)
ListId = NewType("ListId", int)

MAX_TASK_ID = 2**63 - 1

_ID: Final = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)


def parse_id(text: str) -> int | None:
    """The id `text` names if it is a positive 64-bit integer in plain decimal digits, else None.

    One spelling per id: no sign, no leading zero, no other script's digits.
    """
    if _ID.fullmatch(text) and int(text) <= MAX_TASK_ID:
        return int(text)
    return None


def parse_task_id(text: str) -> TaskId | None:
    """The task id `text` names (see parse_id), else None."""
    number = parse_id(text)
    return None if number is None else TaskId(number)


def parse_list_id(text: str) -> ListId | None:
    """The list id `text` names (see parse_id), else None."""
    number = parse_id(text)
    return None if number is None else ListId(number)


def is_id(value: object) -> bool:
    """Whether a JSON value is an id: a positive 64-bit integer (and no boolean)."""
    return type(value) is int and 0 < value <= MAX_TASK_ID
