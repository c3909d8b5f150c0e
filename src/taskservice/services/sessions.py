"""Ending the sessions of the service's own tokens, and refusing those tokens from then on."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, TypeAlias

import attrs

from domain.errors import InvalidToken
from domain.personal_tokens import TOKEN_LENGTH, looks_personal, same_hash, token_hash
from domain.sessions import REVOCATION_DELAY, EndedSessions
from domain.types import UserId
from domain.users import Principal
from taskservice.ports import Clock, TokenVerifier, UnitOfWorkFactory

_PURGE_BATCH: Final = 100
_PRUNE_AT: Final = 4096

Loading: TypeAlias = tuple[float, asyncio.Future[EndedSessions | None]]
"""A read of a user's ended sessions: when it began, and its result to come."""


@attrs.frozen
class _Known:
    ended: EndedSessions | None
    read_at: float
    """The monotonic moment the read began: it saw every end committed before then."""


class SessionGuard:
    """A TokenVerifier that also refuses the service's own tokens whose session has ended, and
    the use cases that end them.

    What it knows of a user's ended sessions is re-read from storage once it is `max_age` old, so
    an end recorded by any process takes effect in every process within `max_age`, and at once in
    the one that recorded it (which calls `forget`). A token of another issuer (a frontend's)
    passes through without a look: only Better Auth can end its sessions.

    Personal access tokens (`tsk_…`) are looked up by the hash of their secret on every use,
    together with their owner's cut-off, so that a revoked, expired or signed-out-everywhere one
    is refused at once on every instance; they are for scripts, not the hot path of a browser.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        max_age: timedelta = REVOCATION_DELAY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verifier = verifier
        self._uow_factory = uow_factory
        self._clock = clock
        self._max_age = max_age.total_seconds()
        self._monotonic = monotonic
        self._known: dict[UserId, _Known] = {}
        self._loading: dict[UserId, Loading] = {}
        self._prune_at = _PRUNE_AT

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token whose session, if the service issued it, goes on."""
        if looks_personal(token):
            return await self._personal(token)
        principal = await self._verifier.verify(token)
        session = principal.session
        if session is None:
            return principal
        ended = await self._ended(principal.user_id)
        # The service issues tokens to its accounts only: without the account, the token is void.
        if ended is None or ended.ends(session):
            raise InvalidToken()
        return principal

    async def sign_out(self, principal: Principal) -> None:
        """End the session of `principal`'s token on every instance; a frontend's is not ours to
        end."""
        session = principal.session
        if session is None:
            return
        async with self._uow_factory() as uow:
            await uow.sessions.end(principal.user_id, session)
            await uow.sessions.purge(self._clock.now(), _PURGE_BATCH)
            await uow.commit()
        self.forget(principal.user_id)

    async def end_every_session(self, user_id: UserId) -> datetime:
        """End every session and personal token of `user_id` issued until now (sign-out
        everywhere); the moment they ended."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            await uow.sessions.end_all(user_id, now)
            await uow.commit()
        self.forget(user_id)
        return now

    async def _personal(self, token: str) -> Principal:
        # A malformed one costs no round trip.
        if len(token) != TOKEN_LENGTH or not token.isascii():
            raise InvalidToken()
        digest = token_hash(token)
        async with self._uow_factory() as uow:
            found = await uow.personal_tokens.find(digest)
        if found is None or not same_hash(found.token_hash, digest):
            raise InvalidToken()
        personal, cut_off = found.token, found.sessions_ended_before
        if not personal.is_live(self._clock.now()) or (
            cut_off is not None and personal.created_at < cut_off
        ):
            raise InvalidToken()
        return Principal(user_id=personal.user_id, scopes=personal.scopes)

    def forget(self, user_id: UserId) -> None:
        """Drop what this process knows of `user_id`'s sessions: the next token reads them anew."""
        self._known.pop(user_id, None)
        # A read begun before the change must neither be joined nor remembered.
        self._loading.pop(user_id, None)

    async def _ended(self, user_id: UserId) -> EndedSessions | None:
        now = self._monotonic()
        known = self._known.get(user_id)
        if known is not None and now - known.read_at < self._max_age:
            return known.ended
        loading = self._loading.get(user_id)
        if loading is None or now - loading[0] >= self._max_age:
            # One read per user at a time, however many of their requests wait for it.
            loading = (now, asyncio.ensure_future(self._read(user_id)))
            self._loading[user_id] = loading
            loading[1].add_done_callback(functools.partial(self._remember, user_id, loading))
        # Shielded: a waiter that goes away does not cancel the read the others wait for.
        return await asyncio.shield(loading[1])

    async def _read(self, user_id: UserId) -> EndedSessions | None:
        async with self._uow_factory() as uow:
            return await uow.sessions.ended(user_id, self._clock.now())

    def _remember(
        self, user_id: UserId, loading: Loading, done: asyncio.Future[EndedSessions | None]
    ) -> None:
        # Asking for the exception marks it seen even when every waiter has gone.
        failed = done.cancelled() or done.exception() is not None
        if self._loading.get(user_id) is not loading:
            return
        del self._loading[user_id]
        if failed:
            return
        if len(self._known) >= self._prune_at:
            self._prune()
        self._known[user_id] = _Known(done.result(), loading[0])

    def _prune(self) -> None:
        now = self._monotonic()
        stale = [k for k, known in self._known.items() if now - known.read_at >= self._max_age]
        for user_id in stale:
            del self._known[user_id]
        # Pruning again only when the map has doubled keeps its cost constant per entry.
        self._prune_at = max(_PRUNE_AT, 2 * len(self._known))
