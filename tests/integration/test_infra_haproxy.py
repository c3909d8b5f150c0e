"""The HAProxy harness: requests spread over two servers, and one killed is routed around."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from tests.infra.echo_server import EchoServer, echo_server
from tests.infra.fixtures import StartHaproxy

IN_FLIGHT = 4
DOWN_WITHIN = 1.5


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[EchoServer, EchoServer]]:
    """Two echo servers, `a` and `b`."""
    async with AsyncExitStack() as stack:
        a, b = await asyncio.gather(
            stack.enter_async_context(echo_server("a", tmp_path)),
            stack.enter_async_context(echo_server("b", tmp_path)),
        )
        yield a, b


async def whoami(client: httpx.AsyncClient, count: int) -> collections.Counter[tuple[int, str]]:
    """How many of `count` requests to /whoami each status and server answered."""
    answers = [await client.get("/whoami") for _ in range(count)]
    return collections.Counter((answer.status_code, answer.text) for answer in answers)


async def test_requests_are_spread_over_the_servers_its_checks_find_up(
    servers: tuple[EchoServer, EchoServer], start_haproxy: StartHaproxy
) -> None:
    a, b = servers
    balancer = await start_haproxy([a.address, b.address])
    await balancer.wait_until(up={a.address, b.address})
    async with httpx.AsyncClient(base_url=balancer.url) as client:
        assert await whoami(client, 10) == {(200, "a"): 5, (200, "b"): 5}


async def test_a_killed_server_fails_its_requests_in_flight_and_is_routed_around(
    servers: tuple[EchoServer, EchoServer], start_haproxy: StartHaproxy
) -> None:
    a, b = servers
    balancer = await start_haproxy([a.address, b.address])
    await balancer.wait_until(up={a.address, b.address})
    async with httpx.AsyncClient(base_url=balancer.url, timeout=10) as client:
        slow = [
            asyncio.create_task(client.get("/slow", params={"seconds": 1}))
            for _ in range(IN_FLIGHT)
        ]
        await asyncio.sleep(0.3)  # all of them are at their server now
        await a.process.kill()

        # New connections to `a` are refused and retried on `b`, before the checks notice.
        async with httpx.AsyncClient(base_url=balancer.url) as newcomer:
            assert await whoami(newcomer, 10) == {(200, "b"): 10}
        assert await balancer.wait_until(up={b.address}, within=DOWN_WITHIN) < DOWN_WITHIN
        assert await whoami(client, 10) == {(200, "b"): 10}

        outcomes = await asyncio.gather(*slow, return_exceptions=True)
    answered = [o for o in outcomes if isinstance(o, httpx.Response) and o.status_code == 200]
    assert [o.text for o in answered] == ["b"] * (IN_FLIGHT // 2)
    # Those `a` had: HAProxy's 502, or the connection closed without an answer.
    failed = [o for o in outcomes if o not in answered]
    assert len(failed) == IN_FLIGHT // 2
    for outcome in failed:
        if isinstance(outcome, httpx.Response):
            assert outcome.status_code == 502
        else:
            assert isinstance(outcome, httpx.RemoteProtocolError), outcome
