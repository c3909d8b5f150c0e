"""The change feed use case (SPEC §8), and the purge of its history that deletes piggyback on."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs

from domain.errors import SyncExpired
from domain.policy import Action
from domain.sync import HISTORY_KEPT, Change, latest_per_entity
from domain.users import Caller
from taskservice.cursors import FeedCursorCodec
from taskservice.ports import UnitOfWork, UnitOfWorkFactory

# Deletes purged per delete: more than one, so purging outpaces deleting.
_PURGE_BATCH: Final = 100


@attrs.frozen(kw_only=True)
class FeedPage:
    """One page of a user's feed: each entity at most once, the cursor after it, and whether
    more entries were there to read."""

    entries: list[Change]
    cursor: str
    has_more: bool


@attrs.frozen(kw_only=True)
class SyncUseCases:
    """Reading a user's change feed, bound to storage and the feed's cursor codec."""

    uow: UnitOfWorkFactory
    cursors: FeedCursorCodec

    async def changes(self, caller: Caller, since: str | None, limit: int) -> FeedPage:
        """The entries of the caller's feed after `since` (a cursor of this feed; None: a full
        sync from the start), at most `limit` of them before each entity is kept once.

        `cursor` continues after the last entry read (or where `since` was, for an empty page).
        ValidationFailed for a cursor not issued for this caller's feed; SyncExpired for one
        older than the deletes kept (the client then syncs in full).
        """
        caller.authorize(Action.READ)
        owner = caller.owner
        after = None if since is None else self.cursors.decode(since, owner)
        async with self.uow() as uow:
            # One entry more than asked tells whether more exist.
            read = await uow.changes.page(owner, after, limit + 1)
            if after is not None:
                # Read after the page: a purge that took an entry the page should have had
                # committed before the page was read, and so shows here.
                horizon = await uow.changes.horizon()
                if horizon and after.changed <= horizon:
                    raise SyncExpired()
        shown = read[:limit]
        if shown:
            cursor = self.cursors.encode(owner, shown[-1].position)
        else:
            cursor = since if since is not None else self.cursors.encode(owner, None)
        return FeedPage(entries=latest_per_entity(shown), cursor=cursor, has_more=len(read) > limit)


async def purge_history(uow: UnitOfWork, now: datetime) -> None:
    """Forget a batch of the deletes older than the history kept, in the deleting unit of work."""
    await uow.changes.purge(now - HISTORY_KEPT, _PURGE_BATCH)
