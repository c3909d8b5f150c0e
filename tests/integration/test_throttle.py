"""The throttle on `limits`, in process and on a real Redis shared by two throttles."""

from __future__ import annotations

import asyncio
import gc
import uuid
from typing import Any

import pytest

from adapters.throttle import LimitsThrottle
from domain.errors import RateLimited
from domain.throttling import Bucket

LIMITS = {
    Bucket.AUTH_PER_ADDRESS: "3/minute",
    Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS: "2/15 minutes",
    Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES: "5/hour",
}
PAIR = Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS


async def test_hits_over_the_limit_are_refused_with_a_retry_after() -> None:
    throttle = LimitsThrottle(LIMITS)
    for _ in range(3):
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.1")
    assert 0 < refused.value.retry_after <= 60
    await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.2")


async def test_clearing_forgets_the_attempts_of_one_key_only() -> None:
    throttle = LimitsThrottle(LIMITS)
    for key in ("a@b.co", "c@d.co"):
        await throttle.hit(PAIR, key)
        await throttle.hit(PAIR, key)
    await throttle.clear(PAIR, "a@b.co")

    await throttle.hit(PAIR, "a@b.co")
    await throttle.hit(PAIR, "a@b.co")
    with pytest.raises(RateLimited) as refused:
        await throttle.hit(PAIR, "c@d.co")
    assert refused.value.retry_after > 60


async def test_clearing_while_the_store_sweeps_expired_attempts_breaks_nothing() -> None:
    # limits' in-process store sweeps in a task that lists its keys, then visits each one.
    failures: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: failures.append(ctx))
    try:
        throttle = LimitsThrottle(LIMITS)
        keys = [f"10.0.0.{n}" for n in range(50)]
        for key in keys:
            await throttle.hit(Bucket.AUTH_PER_ADDRESS, key)
        await asyncio.sleep(0.05)
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.1.1")  # starts the next sweep
        await asyncio.sleep(0)
        for key in keys:
            await throttle.clear(Bucket.AUTH_PER_ADDRESS, key)
        await asyncio.sleep(0.05)
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.1.2")  # lets the last sweep go
        gc.collect()
        await asyncio.sleep(0)
    finally:
        asyncio.get_running_loop().set_exception_handler(None)
    assert failures == []
    for key in keys:
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, key)


async def test_redis_clears_as_memory_does(redis_url: str) -> None:
    key = f"someone-{uuid.uuid4().hex}@b.co"
    throttle = LimitsThrottle(LIMITS, redis_url)
    try:
        await throttle.hit(PAIR, key)
        await throttle.hit(PAIR, key)
        await throttle.clear(PAIR, key)
        await throttle.hit(PAIR, key)
        await throttle.hit(PAIR, key)
        with pytest.raises(RateLimited):
            await throttle.hit(PAIR, key)
    finally:
        await throttle.aclose()


async def test_two_processes_share_counts_through_redis(redis_url: str) -> None:
    key = f"address-{uuid.uuid4().hex}"
    first, second = LimitsThrottle(LIMITS, redis_url), LimitsThrottle(LIMITS, redis_url)
    try:
        await first.hit(Bucket.AUTH_PER_ADDRESS, key)
        await second.hit(Bucket.AUTH_PER_ADDRESS, key)
        await first.hit(Bucket.AUTH_PER_ADDRESS, key)
        with pytest.raises(RateLimited):
            await second.hit(Bucket.AUTH_PER_ADDRESS, key)
    finally:
        await first.aclose()
        await second.aclose()


async def test_an_unreachable_storage_lets_attempts_through() -> None:
    throttle = LimitsThrottle(LIMITS, "redis://127.0.0.1:1")
    try:
        for _ in range(5):
            await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.3")
    finally:
        await throttle.aclose()
