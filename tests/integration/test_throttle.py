"""The throttle on `limits`, in process and on a real Redis shared by two throttles."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from adapters.throttle import LimitsThrottle
from domain.errors import RateLimited
from domain.throttling import Bucket

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
LIMITS = {Bucket.AUTH_PER_ADDRESS: "3/minute", Bucket.FAILED_SIGN_IN_PER_EMAIL: "2/15 minutes"}


def redis_or_skip() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis is not reachable: {exc}")
    return REDIS_URL


async def test_hits_over_the_limit_are_refused_with_a_retry_after() -> None:
    throttle = LimitsThrottle(LIMITS)
    for _ in range(3):
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.1")
    assert 0 < refused.value.retry_after <= 60
    await throttle.hit(Bucket.AUTH_PER_ADDRESS, "10.0.0.2")


async def test_check_counts_nothing() -> None:
    throttle = LimitsThrottle(LIMITS)
    for _ in range(5):
        await throttle.check(Bucket.FAILED_SIGN_IN_PER_EMAIL, "a@b.co")
    await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL, "a@b.co")
    await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL, "a@b.co")
    with pytest.raises(RateLimited) as refused:
        await throttle.check(Bucket.FAILED_SIGN_IN_PER_EMAIL, "a@b.co")
    assert refused.value.retry_after > 60


async def test_two_processes_share_counts_through_redis() -> None:
    url = redis_or_skip()
    key = f"address-{uuid.uuid4().hex}"
    first, second = LimitsThrottle(LIMITS, url), LimitsThrottle(LIMITS, url)
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
