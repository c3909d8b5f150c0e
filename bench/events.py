"""`make bench-events`: live events (SPEC §8) under load, on a PostgreSQL database of its own.

    python -m bench.events                     # both scenarios
    python -m bench.events --streams 1000 --rate 200 --seconds 10

Two scenarios, each against `taskservice serve` processes as deployed:

- open streams: one process holds `--streams` event streams (one user each, every stream open
  and answered); the process's resident memory before and after they opened (target: at most
  60 MB more for 1,000).
- latency across processes: `--readers` users each hold a stream on process B while their
  tasks are created through process A at `--rate` writes a second for `--seconds`; the time
  from each write's answer (its commit) to its event on B (target: p99 at most 1 s at 200
  writes/s; an event that comes before the answer counts as 0). The writes' own answer times
  are shown beside it.

Everything it starts is stopped, and the database dropped, at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import attrs
import httpx

from bench import servers, tokens
from bench.database import BenchDatabase, admin_url

RSS_TARGET_MB: Final = 60.0
LATENCY_TARGET_S: Final = 1.0
OPEN_WITHIN_S: Final = 120.0
WRITERS: Final = 32
"""Writes in flight at most, so that a slow answer does not hold up the rate."""


@attrs.frozen(kw_only=True)
class Row:
    """One line of the table: a scenario, what was measured, the target and whether it held."""

    scenario: str
    measured: str
    target: str
    met: bool


class RawStream:
    """One event stream on a bare connection: a client as light as can be, so that a thousand
    of them cost the load generator little."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, user: str, token: str) -> RawStream:
        """A stream of `user`'s events, once the service has answered 200."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"GET /api/{user}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status.decode(errors='replace')}")
        return cls(reader, writer)

    async def titles(self) -> AsyncIterator[str]:
        """The titles of the tasks the stream upserts, as they come."""
        while True:
            line = await self.reader.readline()
            if not line:
                return
            # Chunked framing lines and comments carry no entry; a data line holds one whole.
            if not line.startswith(b"data: "):
                continue
            entry = json.loads(line[6:])
            if entry["kind"] == "task" and entry["op"] == "upsert":
                yield entry["data"]["title"]

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


async def open_streams(port: int, secret: str, users: Sequence[str]) -> list[RawStream]:
    """One stream per user, opened a hundred at a time."""
    opened: list[RawStream] = []
    for start in range(0, len(users), 100):
        batch = users[start : start + 100]
        opened += await asyncio.gather(
            *(RawStream.open(port, user, tokens.mint(secret, user)) for user in batch)
        )
    return opened


async def many_streams(server: servers.Server, secret: str, count: int) -> Row:
    """`count` streams on one process; its memory growth."""
    before = server.rss_mb()
    users = [f"stream-{i:05}" for i in range(count)]
    async with asyncio.timeout(OPEN_WITHIN_S):
        streams = await open_streams(server.port, secret, users)
    # Every stream has read its (empty) feed and waits; the process's memory has settled.
    await asyncio.sleep(2)
    server.check_alive()
    after = server.rss_mb()
    for stream in streams:
        stream.close()
    grown = after - before
    # The target is for 1,000 streams; fewer get the same allowance.
    limit = RSS_TARGET_MB * max(count, 1000) / 1000
    return Row(
        scenario=f"{count} open streams, one process",
        measured=f"RSS {before:.0f} -> {after:.0f} MB (+{grown:.1f} MB)",
        target=f"<= +{limit:.0f} MB",
        met=grown <= limit,
    )


@attrs.define
class Latencies:
    """Writes through one process and their events on another, matched by title."""

    secret: str
    users: list[str]
    total: int
    sent: dict[str, float] = attrs.Factory(dict)
    """When each write was answered (committed)."""
    heard: dict[str, float] = attrs.Factory(dict)
    """When each write's event arrived."""
    answers: list[float] = attrs.Factory(list)
    latencies: list[float] = attrs.Factory(list)
    errors: int = 0
    done: asyncio.Event = attrs.Factory(asyncio.Event)

    async def follow(self, stream: RawStream) -> None:
        """Note when each write's event arrives on `stream`."""
        async for title in stream.titles():
            if title.startswith("write-") and title not in self.heard:
                self.heard[title] = time.monotonic()
                self._settle(title)

    async def write(self, client: httpx.AsyncClient, number: int) -> None:
        """Write number `number`, as one of the users in turn."""
        user = self.users[number % len(self.users)]
        title = f"write-{number}"
        asked = time.monotonic()
        response = await client.post(
            f"/api/{user}/tasks",
            json={"title": title},
            headers={"Authorization": f"Bearer {tokens.mint(self.secret, user)}"},
        )
        if response.status_code != 201:
            self.errors += 1
            return
        self.sent[title] = time.monotonic()
        self.answers.append(self.sent[title] - asked)
        self._settle(title)

    def _settle(self, title: str) -> None:
        # Both the answer and the event are in: the latency is known (0 for an event that came
        # before the answer).
        if title in self.sent and title in self.heard:
            self.latencies.append(max(0.0, self.heard[title] - self.sent[title]))
            if len(self.latencies) + self.errors >= self.total:
                self.done.set()


async def latency_across(
    writer: servers.Server,
    reader: servers.Server,
    secret: str,
    *,
    readers: int,
    rate: float,
    seconds: float,
) -> Row:
    """Writes at `rate` through one process, events read on the other; the p99 latency."""
    users = [f"reader-{i:04}" for i in range(readers)]
    streams = await open_streams(reader.port, secret, users)
    run = Latencies(secret=secret, users=users, total=int(rate * seconds))
    async with asyncio.TaskGroup() as group:
        followers = [group.create_task(run.follow(stream)) for stream in streams]
        limits = httpx.Limits(max_connections=WRITERS, max_keepalive_connections=WRITERS)
        async with httpx.AsyncClient(base_url=writer.url, timeout=10, limits=limits) as client:
            slots = asyncio.Semaphore(WRITERS)

            async def write(number: int) -> None:
                async with slots:
                    await run.write(client, number)

            started = time.monotonic()
            async with asyncio.TaskGroup() as writes:
                for number in range(run.total):
                    delay = started + number / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    writes.create_task(write(number))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await run.done.wait()
        for task in followers:
            task.cancel()
        for stream in streams:
            stream.close()
    missing = run.total - run.errors - len(run.latencies)
    p99 = _percentile(run.latencies, 0.99)
    return Row(
        scenario=f"latency across 2 processes, {rate:g} writes/s, {readers} streams",
        measured=(
            f"p50 {_percentile(run.latencies, 0.5) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"{len(run.latencies)}/{run.total} seen, {run.errors} errors; writes answered "
            f"p50 {_percentile(run.answers, 0.5) * 1000:.0f} ms, "
            f"p99 {_percentile(run.answers, 0.99) * 1000:.0f} ms"
        ),
        target=f"p99 <= {LATENCY_TARGET_S * 1000:.0f} ms, none missing",
        met=p99 <= LATENCY_TARGET_S and missing == 0 and run.errors == 0,
    )


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("inf")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@asynccontextmanager
async def rig(names: Sequence[str]) -> AsyncIterator[tuple[dict[str, servers.Server], str]]:
    """A migrated empty database and a service process per name on it; all gone afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="taskservice-bench-events-"))
    database = BenchDatabase(admin_url())
    secret = tokens.new_secret()
    running: dict[str, servers.Server] = {}
    try:
        await database.create()
        await database.migrate()
        for name in names:
            running[name] = servers.service(
                database_url=database.url,
                secret=secret,
                log_level="WARNING",
                workdir=workdir,
                cpu=None,
                name=name,
            )
            running[name].start()
        for server in running.values():
            await server.wait_ready()
        yield running, secret
    finally:
        for server in running.values():
            server.stop()
        await database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


async def run(options: argparse.Namespace) -> list[Row]:
    """Both scenarios, each on processes of its own."""
    rows = []
    async with rig(["one"]) as (started, secret):
        rows.append(await many_streams(started["one"], secret, options.streams))
    async with rig(["a", "b"]) as (started, secret):
        rows.append(
            await latency_across(
                started["a"],
                started["b"],
                secret,
                readers=options.readers,
                rate=options.rate,
                seconds=options.seconds,
            )
        )
    return rows


def table(rows: Sequence[Row]) -> str:
    """The results as a text table."""
    header = ("scenario", "measured", "target", "met")
    lines = [header, *((r.scenario, r.measured, r.target, "yes" if r.met else "NO") for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scenarios and print the table; 1 when a target was missed."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.events", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args(argv)
    rows = asyncio.run(run(options))
    print(table(rows))
    return 0 if all(row.met for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
