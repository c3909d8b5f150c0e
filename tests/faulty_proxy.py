"""A TCP proxy on 127.0.0.1 between the service and PostgreSQL that a test can cut, delay or stall."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final
from urllib.parse import urlsplit, urlunsplit

LOOPBACK: Final = "127.0.0.1"
_CHUNK: Final = 65536
# PostgreSQL's Terminate message: what a client sends when it closes a connection on purpose.
TERMINATE: Final = b"X\x00\x00\x00\x04"


class _Link:
    """One client connection and its upstream twin, forwarded both ways."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.last_from_client = b""

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class FaultyProxy:
    """Forwards 127.0.0.1:`port` to an upstream address until told to cut, delay or blackhole."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._links_changed = asyncio.Condition()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.delay = 0.0
        """Seconds each chunk from the client waits before it is forwarded."""
        self.port = 0
        self.clean_closes = 0
        """Connections the client ended with PostgreSQL's Terminate message, as a pool does."""
        self.dirty_closes = 0
        """Connections that ended any other way: dropped by a cut, or by a client that vanished."""

    @classmethod
    @asynccontextmanager
    async def to(cls, database_url: str) -> AsyncIterator[FaultyProxy]:
        """A running proxy in front of the server of `database_url`, closed on exit."""
        parts = urlsplit(database_url)
        proxy = cls(parts.hostname or LOOPBACK, parts.port or 5432)
        await proxy.listen()
        try:
            yield proxy
        finally:
            await proxy.aclose()

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{LOOPBACK}:{self.port}"))

    async def wait_for_links(self, count: int) -> None:
        """Return once the proxy holds at least `count` client connections."""
        async with self._links_changed:
            await self._links_changed.wait_for(lambda: len(self._links) >= count)

    async def listen(self) -> None:
        """Accept connections (again) on the same port."""
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection and refuse new ones, as a database that went away."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for link in list(self._links):
            link.close()
        self._links.clear()
        await asyncio.sleep(0)

    async def restore(self) -> None:
        """Undo a cut, a delay and a blackhole: forward everything promptly again."""
        self.delay = 0.0
        self._flowing.set()
        if self._server is None:
            await self.listen()

    def blackhole(self) -> None:
        """Keep accepting and holding connections but forward nothing, as a network partition."""
        self._flowing.clear()

    async def aclose(self) -> None:
        """Stop the proxy and drop every connection."""
        self._flowing.set()
        await self.cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self._links.add(link)
        async with self._links_changed:
            self._links_changed.notify_all()
        try:
            await self._flowing.wait()
            up_reader, link.upstream = await asyncio.open_connection(*self._upstream)
            link.tasks = [
                asyncio.create_task(self._pipe(reader, link.upstream, link)),
                asyncio.create_task(self._pipe(up_reader, writer, None)),
            ]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._count_close(link)
            link.close()
            self._links.discard(link)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link | None
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(_CHUNK):
                # Holding data back, never dropping it, keeps the protocol stream intact.
                await self._flowing.wait()
                if link is not None:
                    link.last_from_client = (link.last_from_client + data)[-len(TERMINATE) :]
                    # Delaying one direction only makes each round trip `delay` slower.
                    if self.delay:
                        await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()

    def _count_close(self, link: _Link) -> None:
        if link.upstream is None:
            return
        if link.last_from_client == TERMINATE:
            self.clean_closes += 1
        else:
            self.dirty_closes += 1
