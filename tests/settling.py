"""How a test client of the change feed knows it has reached the end."""

from __future__ import annotations

from typing import Final

SETTLING: Final = 10
"""Reads of a feed's end before a client takes it as reached. On PostgreSQL a read stops below
any transaction of another database that ended while the read looked (it cannot tell whose it
was): another test run's load may hold one read back, never all of the next ones."""
