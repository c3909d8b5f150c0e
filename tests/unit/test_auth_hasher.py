"""The argon2id password hasher: parameters, verdicts and staying off the event loop."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator

import argon2
import pytest

from adapters.auth import Argon2Hasher

# OWASP Password Storage Cheat Sheet, argon2id: any one of these (memory KiB, iterations), p=1.
OWASP = [(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)]


@pytest.fixture(scope="module")
def hasher() -> Iterator[Argon2Hasher]:
    """The hasher with its default (production) parameters."""
    made = Argon2Hasher()
    yield made
    made.close()


async def test_hashes_are_argon2id_at_or_above_owasp_minimum(hasher: Argon2Hasher) -> None:
    stored = await hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    params = argon2.extract_parameters(stored)
    assert params.type is argon2.Type.ID
    assert params.parallelism >= 1
    assert any(params.memory_cost >= m and params.time_cost >= t for m, t in OWASP)
    assert params.salt_len >= 16


async def test_the_right_password_verifies_and_a_wrong_one_does_not(hasher: Argon2Hasher) -> None:
    stored = await hasher.hash("pässwörd 🔑")
    assert await hasher.verify(stored, "pässwörd 🔑") is True
    assert await hasher.verify(stored, "passwörd 🔑") is False
    assert await hasher.verify(stored, "") is False


async def test_the_same_password_hashes_differently_each_time(hasher: Argon2Hasher) -> None:
    assert await hasher.hash("same") != await hasher.hash("same")


async def test_no_hash_never_verifies(hasher: Argon2Hasher) -> None:
    assert await hasher.verify(None, "anything") is False
    assert await hasher.verify(None, "") is False


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA",
        "$2b$12$KIXQJhJt0HgIuWqY8zyV0e9H7YH8m3Hh1y4P8v1c0yWmTz0b6Q3Ce",
        "\x00",
    ],
)
async def test_an_invalid_stored_hash_is_a_mismatch_not_an_error(
    hasher: Argon2Hasher, stored: str
) -> None:
    assert await hasher.verify(stored, "password") is False


async def test_a_lone_surrogate_password_does_not_crash(hasher: Argon2Hasher) -> None:
    stored = await hasher.hash("bad \ud800 surrogate")
    assert await hasher.verify(stored, "bad \ud800 surrogate") is True
    assert await hasher.verify(stored, "bad  surrogate") is False


async def _ticks_during(work: Callable[[], Awaitable[object]]) -> int:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        await work()
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    return ticks


async def test_hashing_and_verifying_run_off_the_event_loop(hasher: Argon2Hasher) -> None:
    stored = await hasher.hash("password")

    async def burst() -> None:
        await asyncio.gather(
            hasher.hash("password"),
            hasher.verify(stored, "password"),
            hasher.verify(None, "password"),
            hasher.verify(stored, "wrong"),
        )

    # A blocked loop would not tick at all while argon2 works (tens of milliseconds).
    assert await _ticks_during(burst) >= 3


async def _median_seconds(action: Callable[[], Awaitable[object]]) -> float:
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def test_an_unknown_user_costs_about_what_a_wrong_password_costs(
    hasher: Argon2Hasher,
) -> None:
    stored = await hasher.hash("password")
    wrong = await _median_seconds(lambda: hasher.verify(stored, "wrong"))
    unknown = await _median_seconds(lambda: hasher.verify(None, "wrong"))
    assert unknown > wrong * 0.3


def test_parameters_below_owasp_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="OWASP"):
        Argon2Hasher(time_cost=1, memory_cost=19456)
    with pytest.raises(ValueError, match="OWASP"):
        Argon2Hasher(time_cost=2, memory_cost=8192)
    with pytest.raises(ValueError, match="OWASP"):
        Argon2Hasher(parallelism=0)


async def test_stronger_parameters_are_used_and_old_hashes_need_a_rehash(
    hasher: Argon2Hasher,
) -> None:
    stronger = Argon2Hasher(time_cost=3, memory_cost=19456, parallelism=1)
    try:
        stored = await stronger.hash("password")
        assert argon2.extract_parameters(stored).time_cost == 3
        assert await hasher.verify(stored, "password") is True
        assert hasher.needs_rehash(stored) is True
        assert stronger.needs_rehash(stored) is False
        assert hasher.needs_rehash("garbage") is True
    finally:
        stronger.close()
