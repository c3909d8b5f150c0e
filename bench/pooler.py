"""PgBouncer in transaction mode before the bench database, for the `*_pooler` scenarios.

The tests' harness starts it (tests/infra/pgbouncer.py: Debian's pgbouncer on a free loopback
port, as an unprivileged user). Like PostgreSQL it is not pinned: on this 2-core machine pinned
beside wrk it waited for that core, which wrk and PostgreSQL keep busy, and beside the service
it took the service's core; its own CPU time is counted per request.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import attrs

from bench.servers import process_cpu_seconds
from tests.infra.pgbouncer import pgbouncer

POOL_SIZE: Final = 10
"""Server connections: the service's own DB_POOL_SIZE, so the pooler queues nobody it would not."""
_SBIN: Final = "/usr/sbin:/sbin"


class PoolerFailed(RuntimeError):
    """PgBouncer could not be installed."""


@attrs.define
class Pooler:
    """A running PgBouncer: the URL the service is given, and its CPU time over measured runs."""

    url: str
    pid: int
    pool_size: int
    version: str
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


def _which() -> str | None:
    return shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:{_SBIN}")


def ensure_pgbouncer() -> str:
    """The path of pgbouncer, installing Debian's package when it is missing."""
    found = _which()
    if found:
        return found
    print("bench: pgbouncer is missing; installing it with apt-get")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "pgbouncer"], check=True, env=env)
    found = _which()
    if not found:
        raise PoolerFailed("apt-get install pgbouncer did not provide a pgbouncer command")
    return found


def _version(program: str) -> str:
    output = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    return output.stdout.split("\n", 1)[0].removeprefix("PgBouncer ").strip()


@asynccontextmanager
async def started(database_url: str) -> AsyncIterator[Pooler]:
    """PgBouncer before `database_url`; the service's URL says `pgbouncer=true`."""
    version = _version(ensure_pgbouncer())
    async with pgbouncer(database_url, pool_size=POOL_SIZE) as bouncer:
        yield Pooler(
            url=f"{bouncer.url}?pgbouncer=true",
            pid=bouncer.process.pid,
            pool_size=POOL_SIZE,
            version=version,
        )
