"""Account use cases: sign up, sign in, and who am I."""

from __future__ import annotations

import uuid
from datetime import datetime

import attrs

from domain.accounts import Account, Credentials, email_key
from domain.errors import InvalidCredentials, SignUpClosed
from domain.throttling import Bucket, address_key, email_and_address_key
from domain.types import UserId
from domain.users import Principal, User
from taskservice.ports import Clock, PasswordHasher, Throttle, TokenIssuer, UnitOfWorkFactory


@attrs.frozen(kw_only=True)
class Session:
    """A signed-in user and the bearer token that proves it."""

    user: User
    token: str
    expires_at: datetime


@attrs.frozen(kw_only=True)
class AccountUseCases:
    """Local accounts and the caller's user, bound to storage, the clock and the identity ports."""

    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    issuer: TokenIssuer
    throttle: Throttle
    allow_signup: bool = True

    async def sign_up(self, credentials: Credentials, address: str) -> Session:
        """Create a local account (e-mail unique case-insensitively) and sign it in."""
        if not self.allow_signup:
            raise SignUpClosed()
        await self.throttle.hit(Bucket.AUTH_PER_ADDRESS, address_key(address))
        password_hash = await self.hasher.hash(credentials.password)
        now = self.clock.now()
        user = User(
            id=UserId(uuid.uuid4().hex),
            email=credentials.email,
            name=credentials.name,
            created_at=now,
        )
        async with self.uow() as uow:
            await uow.users.add_account(
                Account(user=user, password_hash=password_hash), credentials.email_key
            )
            await uow.commit()
        return self._session(user, now)

    async def sign_in(self, email: str, password: str, address: str) -> Session:
        """A session for the account with this e-mail and password; one answer for every failure.

        Every attempt is counted before the password is checked, in each limit atomically, so
        parallel guesses cannot all pass a limit between its check and its count. The strict
        limit is per e-mail and address, so that a stranger elsewhere cannot lock the owner out;
        the looser one per e-mail bounds guessing spread over many addresses. It is counted
        last, so that attempts the strict limit already refused do not use it up.
        """
        key = email_key(email)
        pair = email_and_address_key(key, address)
        throttle = self.throttle
        await throttle.hit(Bucket.AUTH_PER_ADDRESS, address_key(address))
        await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)
        await throttle.hit(Bucket.FAILED_SIGN_IN_PER_EMAIL_ALL_ADDRESSES, key)
        async with self.uow() as uow:
            account = await uow.users.account_by_email(key)
        # An unknown e-mail is checked against a dummy hash so that both failures take as long.
        if not await self.hasher.verify(account.password_hash if account else None, password):
            raise InvalidCredentials()
        assert account is not None
        # The owner proved the password from this address: their earlier typos there are
        # forgiven. The count across addresses stays, or each sign-in of the owner would hand a
        # distributed guesser a fresh allowance.
        await throttle.clear(Bucket.FAILED_SIGN_IN_PER_EMAIL_AND_ADDRESS, pair)
        return self._session(account.user, self.clock.now())

    async def current_user(self, principal: Principal) -> User:
        """The caller's user record, provisioned on first sight from a trusted token."""
        async with self.uow() as uow:
            user = await uow.users.get(principal.user_id)
            if user is None:
                await uow.users.ensure(
                    User(id=principal.user_id, email=principal.email, created_at=self.clock.now())
                )
                await uow.commit()
                user = await uow.users.get(principal.user_id)
        assert user is not None
        return user

    def _session(self, user: User, now: datetime) -> Session:
        issued = self.issuer.issue(user, now)
        return Session(user=user, token=issued.token, expires_at=issued.expires_at)
