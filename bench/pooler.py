"""PgBouncer in transaction mode before the bench database, for the `*_pooler` scenarios.

The tests' harness starts it (tests/infra/pgbouncer.py, on a free loopback port, as an
unprivileged user): a PgBouncer that keeps named prepared statements (1.21 or newer; built from
Debian 13's source by tests/infra/pgbouncer_source.py where Debian 12's 1.18 is installed), and
the service is told so (DB_POOLER_PREPARED_STATEMENTS), as an operator of such a pooler would. Like PostgreSQL it is not pinned: on this 2-core machine pinned
beside wrk it waited for that core, which wrk and PostgreSQL keep busy, and beside the service
it took the service's core; its own CPU time is counted per request.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import attrs
import pytest

from bench.servers import process_cpu_seconds
from tests.infra.pgbouncer import pgbouncer
from tests.infra.pgbouncer_source import (
    missing_build_packages,
    needs_build,
    prepared_pgbouncer,
    printed_version,
)

POOL_SIZE: Final = 10
"""Server connections: the service's own DB_POOL_SIZE, so the pooler queues nobody it would not."""


class PoolerFailed(RuntimeError):
    """PgBouncer could not be installed."""


@attrs.define
class Pooler:
    """A running PgBouncer: the URL the service is given, and its CPU time over measured runs."""

    url: str
    pid: int
    pool_size: int
    version: str
    service_env: dict[str, str]
    """What the service behind it is told of it, beside its URL."""
    cpu_s: float = 0.0
    requests: int = 0

    def cpu_seconds(self) -> float:
        """CPU time PgBouncer has used so far."""
        return process_cpu_seconds(self.pid)

    def count(self, cpu_s: float, requests: int) -> None:
        """Add one measured run's CPU time and requests."""
        self.cpu_s += cpu_s
        self.requests += requests

    def cpu_us_per_request(self) -> float:
        """PgBouncer's CPU microseconds per request that went through it, over measured runs."""
        return self.cpu_s / self.requests * 1e6 if self.requests else 0.0


def ensure_pgbouncer() -> str:
    """The path of a PgBouncer that keeps prepared statements, installing with apt-get what
    building one needs when it is missing."""
    missing = missing_build_packages() if needs_build() else []
    if missing:
        print(f"bench: installing {' '.join(missing)} with apt-get to build PgBouncer")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    try:
        return prepared_pgbouncer()
    # The harness skips (or fails, in CI) a test when it cannot build one: here that is a reason.
    except (RuntimeError, OSError, pytest.skip.Exception, pytest.fail.Exception) as error:
        raise PoolerFailed(str(error)) from error


@asynccontextmanager
async def started(database_url: str) -> AsyncIterator[Pooler]:
    """PgBouncer before `database_url`; the service's URL says `pgbouncer=true`."""
    version = printed_version(ensure_pgbouncer())
    async with pgbouncer(database_url, pool_size=POOL_SIZE, prepared_statements=True) as bouncer:
        yield Pooler(
            url=f"{bouncer.url}?pgbouncer=true",
            pid=bouncer.process.pid,
            pool_size=POOL_SIZE,
            version=version,
            service_env={"DB_POOLER_PREPARED_STATEMENTS": "true"},
        )
