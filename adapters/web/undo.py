"""Undo of a delete: the deleted task's id, writable fields and place (list and parent), sealed
for one user for a short while; the undo restores it from the trash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import orjson

from domain.idempotency import IdempotentRequest
from domain.tasks import PLACEMENT_FIELDS, WRITABLE_FIELDS, Task
from domain.types import TaskId, UserId
from taskservice.ports import Sealer

UNDO_WINDOW: Final = timedelta(minutes=15)
# Sets undo values apart from every other value the same key seals (cursors).
_LABEL: Final = b"taskservice/web-undo\x00"
_ID_BYTES: Final = 16
RESTORED_FIELDS: Final = tuple(sorted(WRITABLE_FIELDS | set(PLACEMENT_FIELDS)))
"""What a restore creates the task again with: what clients write, and where it was."""


@attrs.frozen(kw_only=True)
class Undo:
    """A deleted task that its user may restore once; `id` names that one restore."""

    id: str
    task_id: TaskId
    fields: dict[str, Any]

    @property
    def title(self) -> str:
        """The deleted task's title, for the notice that offers the undo."""
        return str(self.fields["title"])

    def request(self) -> IdempotentRequest:
        """The restore this undo stands for, keyed by its id so that a repeat restores nothing."""
        canonical = orjson.dumps(self.fields, option=orjson.OPT_SORT_KEYS)
        return IdempotentRequest(
            key=f"web-undo:{self.id}", fingerprint=hashlib.sha256(canonical).hexdigest()
        )


class UndoSealer:
    """Seals a deleted task so that only its user can restore it, once, within the undo window."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def seal(self, task: Task, user: UserId, now: datetime) -> str:
        """An unreadable value that `unseal` turns back into an undo for `user`."""
        payload = {
            "id": secrets.token_urlsafe(_ID_BYTES),
            "until": int((now + UNDO_WINDOW).timestamp()),
            "task_id": task.id,
            # orjson writes dates, moments with their offset, priorities and tags as the API does.
            "task": {name: getattr(task, name) for name in RESTORED_FIELDS},
        }
        return self._sealer.seal(orjson.dumps(payload), _LABEL + user.encode())

    def unseal(self, value: str, user: UserId, now: datetime) -> Undo | None:
        """The undo in `value` if it was sealed for `user` and is still in time; else None."""
        plain = self._sealer.open(value, _LABEL + user.encode())
        if plain is None:
            return None
        payload = orjson.loads(plain)
        if payload["until"] < now.timestamp():
            return None
        return Undo(id=payload["id"], task_id=TaskId(payload["task_id"]), fields=payload["task"])
