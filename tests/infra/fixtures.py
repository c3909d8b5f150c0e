"""The harnesses as pytest fixtures, for every test module (tests/conftest.py loads this plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import create_database, drop_database
from tests.infra.pgbouncer import pgbouncer


@pytest.fixture
async def pgbouncer_url() -> AsyncIterator[str]:
    """A new, empty database of the test's own, reached through PgBouncer in transaction mode."""
    url = await create_database()
    try:
        async with pgbouncer(url) as bouncer:
            yield bouncer.url
    finally:
        await drop_database(url)
