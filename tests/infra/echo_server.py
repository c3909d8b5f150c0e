"""A tiny HTTP server, not the product, for testing what stands in front of one (a load balancer).

`echo_server(name)` serves this module's Starlette app with uvicorn in a child process on a free
loopback port: `/readyz` answers 200, `/whoami` the server's name, `/slow?seconds=` the name after
that long (a request to have in flight when the server is killed).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.infra.processes import LOOPBACK, Started, free_port, http_answers, started

NAME_VARIABLE: Final = "ECHO_SERVER_NAME"
_REPOSITORY: Final = Path(__file__).resolve().parents[2]


async def _ready(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ready")


async def _whoami(_request: Request) -> PlainTextResponse:
    return PlainTextResponse(os.environ[NAME_VARIABLE])


async def _slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(float(request.query_params["seconds"]))
    return PlainTextResponse(os.environ[NAME_VARIABLE])


app = Starlette(routes=[Route("/readyz", _ready), Route("/whoami", _whoami), Route("/slow", _slow)])


@attrs.frozen
class EchoServer:
    """A running echo server: its name, `host:port` and process."""

    name: str
    address: str
    process: Started


@asynccontextmanager
async def echo_server(name: str, directory: Path) -> AsyncIterator[EchoServer]:
    """The echo app named `name` in a child process, output in `directory`; stopped on exit."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"{__name__}:app", "--no-access-log"]
    command += ["--host", LOOPBACK, "--port", str(port), "--log-level", "warning"]
    async with started(
        command,
        ready=http_answers(f"http://{LOOPBACK}:{port}/readyz"),
        output=directory / f"{name}.log",
        cwd=_REPOSITORY,
        env={**os.environ, NAME_VARIABLE: name},
    ) as process:
        yield EchoServer(name, f"{LOOPBACK}:{port}", process)
