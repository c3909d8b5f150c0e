"""A Server-Sent Events reader for tests: an httpx stream read event by event, as a browser would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import httpx

WITHIN: Final = 10.0
"""Seconds a test waits for the next event before it fails (events come in milliseconds)."""


@attrs.frozen(kw_only=True)
class Received:
    """One event, or one comment (`comment` set, the rest empty)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None

    @property
    def entry(self) -> dict[str, Any]:
        """The feed entry the event carries."""
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed


class Stream:
    """The events of one open response, in order."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within: float = WITHIN) -> Received | None:
        """The next event or comment; None when the server ended the stream."""
        async with asyncio.timeout(within):
            fields: dict[str, str] = {}
            data: list[str] = []
            async for line in self._lines:
                if line.startswith(":"):
                    if not fields and not data:
                        return Received(comment=line[1:].strip())
                    continue
                if line == "":
                    if fields or data:
                        return Received(
                            id=fields.get("id"), event=fields.get("event"), data="\n".join(data)
                        )
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
            return None

    async def event(self, within: float = WITHIN) -> Received:
        """The next event, comments skipped; fails when the stream ends first."""
        while True:
            received = await self.next(within)
            assert received is not None, "the stream ended"
            if received.comment is None:
                return received

    async def entry_where(self, within: float = WITHIN, **wanted: Any) -> Received:
        """The next event whose entry has the `wanted` values (others before it skipped)."""
        async with asyncio.timeout(within):
            while True:
                received = await self.event()
                entry = received.entry
                if all(_value(entry, key) == value for key, value in wanted.items()):
                    return received


def _value(entry: dict[str, Any], key: str) -> Any:
    # "title" is looked for in the entry's data, the rest (kind, id, op) in the entry itself.
    if key in entry:
        return entry[key]
    data = entry.get("data") or {}
    return data.get(key)


@asynccontextmanager
async def opened(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    """The event stream at `path`, which must answer 200 text/event-stream."""
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)
