"""Undo of a delete: the deleted task's fields in a short-lived value signed for its owner."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from datetime import datetime, timedelta
from typing import Any, Final

from domain.tasks import Task
from domain.types import UserId

UNDO_WINDOW: Final = timedelta(minutes=15)
_MAC_BYTES: Final = 16


class UndoSealer:
    """Seals a deleted task so that only its owner can re-create it, within the undo window."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"taskservice web undo", hashlib.sha256).digest()

    def seal(self, task: Task, now: datetime) -> str:
        """An opaque value that `unseal` turns back into the task's writable fields."""
        payload = {
            "user": task.user_id,
            "until": int((now + UNDO_WINDOW).timestamp()),
            "task": writable_fields(task),
        }
        data = zlib.compress(json.dumps(payload, separators=(",", ":")).encode())
        return base64.urlsafe_b64encode(self._mac(data) + data).decode().rstrip("=")

    def unseal(self, value: str, owner: UserId, now: datetime) -> dict[str, Any] | None:
        """The sealed fields if `value` is genuine, for `owner` and still in time; else None."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            return None
        mac, data = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(data)):
            return None
        payload = json.loads(zlib.decompress(data))
        if payload["user"] != owner or payload["until"] < now.timestamp():
            return None
        fields: dict[str, Any] = payload["task"]
        return fields

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:_MAC_BYTES]


def writable_fields(task: Task) -> dict[str, object]:
    """The task's writable fields as `parse_changes` reads them."""
    return {
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "priority": task.priority.value,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "tags": list(task.tags),
    }
