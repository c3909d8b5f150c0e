"""The harnesses as pytest fixtures, for every test module (tests/conftest.py loads this plugin).

The `start_…` fixtures are factories: a test starts as many as it needs, configured as it needs,
and all are stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import pytest

from tests.conftest import create_database, drop_database
from tests.infra.haproxy import Balancer, haproxy
from tests.infra.openid_provider import OpenIDProvider, openid_provider
from tests.infra.pgbouncer import pgbouncer

StartHaproxy = Callable[..., Awaitable[Balancer]]
StartOpenIDProvider = Callable[..., Awaitable[OpenIDProvider]]


@pytest.fixture
async def pgbouncer_url() -> AsyncIterator[str]:
    """A new, empty database of the test's own, reached through PgBouncer in transaction mode."""
    url = await create_database()
    try:
        async with pgbouncer(url) as bouncer:
            yield bouncer.url
    finally:
        await drop_database(url)


@pytest.fixture
async def start_haproxy() -> AsyncIterator[StartHaproxy]:
    """`await start_haproxy(["127.0.0.1:8001", …], **options)`: a `Balancer` (tests.infra.haproxy)."""
    async with AsyncExitStack() as stack:

        async def start(servers: Sequence[str], **options: Any) -> Balancer:
            return await stack.enter_async_context(haproxy(servers, **options))

        yield start


@pytest.fixture
async def start_openid_provider() -> AsyncIterator[StartOpenIDProvider]:
    """`await start_openid_provider(redirect_uris=[…], **options)`: tests.infra.openid_provider."""
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> OpenIDProvider:
            return await stack.enter_async_context(openid_provider(**options))

        yield start
