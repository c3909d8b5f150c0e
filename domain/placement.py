"""Manual order: position keys that sort as byte strings, so that a move writes one row.

A top-level task's position is its key among its siblings; a subtask's is its parent's position,
SEPARATOR, then its own key among its parent's subtasks. So the whole list sorts by (position,
id) as SPEC §7 asks (siblings by position, each parent followed by its subtasks), one index
serves that order, and siblings still compare by their keys. Keys come from the
`fractional-indexing` package (base 62: digits, upper, lower case), compared as bytes (PostgreSQL:
`COLLATE "C"`). SEPARATOR sorts below every digit, so a subtask sorts after its parent and
before the parent's next sibling. When a key between two neighbours would grow longer than
POSITION_MAX_LENGTH, the siblings are given fresh, evenly spaced keys (respaced) in the same
transaction.
"""

from __future__ import annotations

import re
from typing import Final

import fractional_indexing

POSITION_MAX_LENGTH: Final = 64
"""The longest key a move or create makes; beyond it the siblings are respaced."""
SEPARATOR: Final = "."
"""Between a parent's position and a subtask's key: below every key digit ("0" is 0x30)."""
_POSITION: Final = re.compile(
    rf"[0-9A-Za-z]{{1,{POSITION_MAX_LENGTH}}}(?:\.[0-9A-Za-z]{{1,{POSITION_MAX_LENGTH}}})?",
    re.ASCII,
)


def is_position(text: str) -> bool:
    """Whether `text` has the form of a position: a key, or a parent's key, SEPARATOR, a key."""
    return _POSITION.fullmatch(text) is not None


def key_of(position: str) -> str:
    """A task's own key among its siblings: its position without its parent's."""
    return position.rpartition(SEPARATOR)[2]


def under(parent: str | None, key: str) -> str:
    """The position of the task with `key` under a parent at position `parent` (None: top level)."""
    return key if parent is None else f"{parent}{SEPARATOR}{key}"


def key_between(lower: str | None, upper: str | None) -> str | None:
    """A key that sorts after `lower` and before `upper` (None: open ended).

    None when that key would be longer than POSITION_MAX_LENGTH, or the neighbours are no keys
    this order can fit one between (equal keys of a race, damaged ones): the caller respaces.
    """
    try:
        key: str = fractional_indexing.generate_key_between(lower, upper)
    except fractional_indexing.FIError:
        return None
    return key if len(key) <= POSITION_MAX_LENGTH else None


def spaced_keys(count: int) -> list[str]:
    """`count` fresh keys in ascending order, evenly spaced: the keys of respaced siblings."""
    keys: list[str] = fractional_indexing.generate_n_keys_between(None, None, count)
    return keys
