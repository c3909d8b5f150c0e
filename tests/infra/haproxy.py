"""HAProxy balancing HTTP over a test's servers, with health checks fast enough for a test.

`haproxy(["127.0.0.1:8001", "127.0.0.1:8002"])` starts Debian's haproxy (2.6 here) in the
foreground on a free loopback port, with its config in a temporary directory, and yields a
`Balancer`: `url` to send requests to, and `up()` / `wait_until(up=…)` reading which servers
the health checks let through (the stats page, CSV, on another free loopback port).

How it balances: round robin over the servers whose `GET <health_path>` answers 200, checked
every `check_interval` seconds; `fall` failed checks in a row (faster checks while one is
failing) take a server out, one good check puts it back. A connection that cannot be made is
retried on another server (`retries 3`, `retry-on conn-failure`, `option redispatch 1`), so
once a server is killed, new requests still succeed even before the checks notice. A request
already sent to a server that dies is not retried (it might not be idempotent): the client gets
HAProxy's 502, or its connection closed without an answer (both seen in the smoke test).
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import attrs
import httpx

from tests.infra.processes import LOOPBACK, Started, free_port, http_answers, program, started

BACKEND: Final = "servers"
"""The backend's name in HAProxy's config, logs and stats."""


@attrs.frozen
class Balancer:
    """A running HAProxy: where to send requests, and which servers its checks let through."""

    url: str
    stats_url: str
    servers: tuple[str, ...]
    """The servers' `host:port`s, in the order given."""
    process: Started

    async def states(self) -> dict[str, str]:
        """Each server's state by `host:port`: "UP", "DOWN", "UP 1/2" (going down) and so on."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(f"{self.stats_url};csv;norefresh")
        response.raise_for_status()
        by_name = {_server_name(index): server for index, server in enumerate(self.servers)}
        rows = csv.DictReader(response.text.removeprefix("# ").splitlines())
        return {
            by_name[row["svname"]]: row["status"]
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] in by_name
        }

    async def up(self) -> set[str]:
        """The servers that get requests now."""
        return {server for server, state in (await self.states()).items() if state.startswith("UP")}

    async def wait_until(self, *, up: Collection[str], within: float = 5.0) -> float:
        """Wait until exactly the servers `up` get requests; the seconds it took."""
        start = time.monotonic()
        while (now_up := await self.up()) != set(up):
            if time.monotonic() - start > within:
                raise TimeoutError(f"after {within} s, up: {sorted(now_up)}, expected {sorted(up)}")
            await asyncio.sleep(0.02)
        return time.monotonic() - start


@asynccontextmanager
async def haproxy(
    servers: Sequence[str],
    *,
    health_path: str = "/readyz",
    check_interval: float = 0.2,
    fall: int = 2,
    server_timeout: float = 30.0,
) -> AsyncIterator[Balancer]:
    """HAProxy in front of `servers` (`host:port` each), stopped on exit."""
    executable = program("haproxy", package="haproxy")
    port, stats_port = free_port(), free_port()
    interval_ms = round(check_interval * 1000)
    root = Path(tempfile.mkdtemp(prefix="haproxy-"))
    config = root / "haproxy.cfg"
    try:
        config.write_text(
            "global\n"
            # Set, so that it is not derived from the machine's file descriptor limit.
            "    maxconn 1000\n"
            "defaults\n"
            "    mode http\n"
            "    timeout connect 1s\n    timeout client 60s\n"
            f"    timeout server {round(server_timeout * 1000)}ms\n    timeout check 1s\n"
            "    retries 3\n    retry-on conn-failure\n    option redispatch 1\n"
            "frontend balancer\n"
            f"    bind {LOOPBACK}:{port}\n"
            f"    default_backend {BACKEND}\n"
            f"backend {BACKEND}\n"
            "    balance roundrobin\n"
            "    option httpchk\n"
            f"    http-check send meth GET uri {health_path} ver HTTP/1.1 hdr Host localhost\n"
            "    http-check expect status 200\n"
            f"    default-server check inter {interval_ms}ms fastinter {interval_ms // 2}ms"
            f" downinter {interval_ms}ms rise 1 fall {fall}\n"
            + "".join(
                f"    server {_server_name(i)} {address}\n" for i, address in enumerate(servers)
            )
            + "listen stats\n"
            f"    bind {LOOPBACK}:{stats_port}\n"
            "    stats enable\n    stats uri /stats\n"
        )
        stats_url = f"http://{LOOPBACK}:{stats_port}/stats"
        async with started(
            # -db: in the foreground, stopped by the signal to its process.
            [executable, "-db", "-f", config],
            ready=http_answers(stats_url),
            output=root / "output.log",
        ) as process:
            yield Balancer(f"http://{LOOPBACK}:{port}", stats_url, tuple(servers), process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _server_name(index: int) -> str:
    return f"s{index}"
