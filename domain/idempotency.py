"""Idempotency keys: a client's name for one create, and the answer kept for its retries."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import attrs

from domain.errors import FieldError
from domain.types import UserId

KEY_FIELD: Final = "Idempotency-Key"
KEY_MAX: Final = 255
KEEP_FOR: Final = timedelta(hours=24)
"""How long an answer is replayed; after that the key is free to name a new request."""

_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}", re.ASCII)


def key_errors(raw: str) -> list[FieldError]:
    """The broken rules of a key, empty when it is well-formed."""
    if _KEY.fullmatch(raw):
        return []
    return [
        FieldError(
            field=KEY_FIELD,
            code="invalid",
            message=f"{KEY_FIELD} must be 1 to {KEY_MAX} characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'.",
        )
    ]


@attrs.frozen(kw_only=True)
class Reply:
    """The answer a create gave, kept verbatim so that a retry gets the very same one."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen(kw_only=True)
class IdempotentRequest:
    """A create sent with a key, and a fingerprint of its body to tell a retry from a reuse."""

    key: str
    fingerprint: str


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """A user's key, the fingerprint of the request it named, and the answer that request got."""

    user_id: UserId
    key: str
    fingerprint: str
    reply: Reply
    created_at: datetime

    def is_live(self, now: datetime) -> bool:
        """Whether the answer is still replayed at `now` (kept for 24 hours)."""
        return self.created_at > now - KEEP_FOR
