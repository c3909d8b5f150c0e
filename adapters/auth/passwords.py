"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: equally strong argon2id minimums as
# (memory in KiB, iterations), each with parallelism 1.
OWASP_MINIMUMS: Final = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


def meets_owasp_minimum(*, memory_cost: int, time_cost: int, parallelism: int) -> bool:
    """Whether argon2id parameters are at or above one of OWASP's minimum configurations."""
    return parallelism >= 1 and any(
        memory_cost >= memory and time_cost >= iterations for memory, iterations in OWASP_MINIMUMS
    )


class Argon2Hasher:
    """Hashes and checks passwords with argon2id in a small pool of worker threads."""

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19456,
        parallelism: int = 1,
        max_workers: int | None = None,
    ) -> None:
        if not meets_owasp_minimum(
            memory_cost=memory_cost, time_cost=time_cost, parallelism=parallelism
        ):
            raise ValueError("argon2id parameters below OWASP's minimum")
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        # A bounded pool caps the memory concurrent hashes take (memory_cost each).
        self._pool = ThreadPoolExecutor(
            max_workers or min(4, os.cpu_count() or 1), thread_name_prefix="argon2"
        )
        # Unknown e-mails are checked against this so they cost what a wrong password costs.
        self._dummy = self._hasher.hash(secrets.token_bytes(16))

    async def hash(self, password: str) -> str:
        """A salted argon2id hash of `password` to store."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._hasher.hash, _encode(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; with no hash, spends the same time and returns False."""
        loop = asyncio.get_running_loop()
        stored = self._dummy if password_hash is None else password_hash
        matches = await loop.run_in_executor(self._pool, self._check, stored, _encode(password))
        return matches and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a stored hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        """Let the worker threads finish; later calls fail."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _check(self, password_hash: str, password: bytes) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError, ValueError):
            return False


def _encode(password: str) -> bytes:
    # `surrogatepass` keeps a lone surrogate (valid in a JSON string) from crashing the hash.
    return password.encode("utf-8", "surrogatepass")
