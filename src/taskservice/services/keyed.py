"""Requests made once per Idempotency-Key: the answer is kept with the write it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import attrs

from domain.errors import Conflict, IdempotencyKeyReused
from domain.idempotency import KEEP_FOR, IdempotencyRecord, IdempotentRequest, Reply
from domain.users import Caller
from taskservice.ports import Clock, UnitOfWork, UnitOfWorkFactory

# Expired idempotency records deleted per keyed write: more than one, so purging outpaces
# writing.
_PURGE_BATCH: Final = 100


@attrs.frozen(kw_only=True)
class KeyedOutcome:
    """The answer to a request sent with an Idempotency-Key, and whether it is a replay."""

    reply: Reply
    replayed: bool


async def once(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: Caller,
    request: IdempotentRequest,
    act: Callable[[UnitOfWork], Awaitable[Reply]],
) -> KeyedOutcome:
    """`act`'s answer in a unit of work that keeps it under the request's key, unless a live
    record of the key answers already (a replay); Conflict while another request with the key
    is in flight."""
    # The record of the key is stored in the transaction of the write it answers, so that
    # neither exists without the other.
    now, owner = clock.now(), caller.owner
    async with uow_factory() as uow:
        earlier = await uow.idempotency.get(owner, request.key)
        if earlier is not None and earlier.is_live(now):
            return _replay(earlier, request)
        await uow.idempotency.purge(now - KEEP_FOR, _PURGE_BATCH)
        reply = await act(uow)
        record = IdempotencyRecord(
            user_id=owner,
            key=request.key,
            fingerprint=request.fingerprint,
            reply=reply,
            created_at=now,
        )
        if await uow.idempotency.claim(record, expired_by=now - KEEP_FOR):
            await uow.commit()
            return KeyedOutcome(reply=reply, replayed=False)
        # A concurrent request with this key committed first; ours is dropped uncommitted.
        winner = await uow.idempotency.get(owner, request.key)
    if winner is None:
        raise Conflict("A request with this Idempotency-Key is still in flight; retry shortly.")
    return _replay(winner, request)


def _replay(record: IdempotencyRecord, request: IdempotentRequest) -> KeyedOutcome:
    if record.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused()
    return KeyedOutcome(reply=record.reply, replayed=True)
