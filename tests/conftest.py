"""Fixtures shared by every ring of tests: a PostgreSQL database of this run's own, and Redis."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.better_auth_js import BetterAuthJs
from tests.infra.processes import unavailable

# The harnesses' fixtures (PgBouncer, HAProxy, an OpenID Provider) for every test module.
pytest_plugins = ("tests.infra.fixtures",)

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc}")


async def create_database() -> str:
    """A new, empty PostgreSQL database; returns its plain postgresql:// URL."""
    name = f"taskservice_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    """Drop a database made by `create_database`, cutting any connection still open."""
    name = url.rsplit("/", 1)[1]
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database for this test session, dropped at its end."""
    url = await create_database()
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the tests share: database 15, and keys no other run uses (fresh e-mails, hosts)."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
    except OSError as exc:
        unavailable(f"Redis is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def better_auth_js(tmp_path_factory: pytest.TempPathFactory) -> BetterAuthJs:
    """The real better-auth npm package, installed once per lock file, driven through Node."""
    return BetterAuthJs.prepare(tmp_path_factory.mktemp("better-auth-js"))
