"""Personal access tokens: made (the secret shown once), listed and revoked by a signed-in owner."""

from __future__ import annotations

import uuid

import attrs

from domain.errors import NotFound, TokenNotAllowed
from domain.personal_tokens import PersonalToken, TokenRequest, new_secret, token_hash
from domain.users import Principal, User
from taskservice.ports import Clock, UnitOfWorkFactory


@attrs.frozen(kw_only=True)
class NewToken:
    """A token just made: what is listed of it, and the secret, which is never shown again."""

    token: PersonalToken
    secret: str = attrs.field(repr=False)


def ensure_signed_in(principal: Principal) -> None:
    """Refuse a personal access token: tokens and the account are managed by sign-in only."""
    if not principal.signed_in:
        raise TokenNotAllowed()


@attrs.frozen(kw_only=True)
class PersonalTokenUseCases:
    """Making, listing and revoking the caller's personal access tokens."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def create(self, principal: Principal, request: TokenRequest) -> NewToken:
        """A new token for the caller; only its hash is stored."""
        ensure_signed_in(principal)
        now = self.clock.now()
        secret = new_secret()
        token = PersonalToken(
            id=uuid.uuid4().hex,
            user_id=principal.user_id,
            name=request.name,
            scopes=request.scopes,
            created_at=now,
            expires_at=now + request.lifetime,
        )
        async with self.uow() as uow:
            # A user known so far only from a frontend's token is stored first: a token has an owner.
            await uow.users.ensure(
                User(id=principal.user_id, email=principal.email, created_at=now)
            )
            await uow.personal_tokens.add(token, token_hash(secret))
            await uow.commit()
        return NewToken(token=token, secret=secret)

    async def list(self, principal: Principal) -> list[PersonalToken]:
        """The caller's tokens, newest first, expired ones too; never their secrets."""
        ensure_signed_in(principal)
        async with self.uow() as uow:
            return await uow.personal_tokens.of_user(principal.user_id)

    async def revoke(self, principal: Principal, token_id: str) -> PersonalToken:
        """Delete the caller's token, which is refused from then on, on every instance; the token
        as it was."""
        ensure_signed_in(principal)
        async with self.uow() as uow:
            mine = await uow.personal_tokens.of_user(principal.user_id)
            token = next((t for t in mine if t.id == token_id), None)
            if token is None or not await uow.personal_tokens.remove(principal.user_id, token_id):
                raise NotFound("No such token.")
            await uow.commit()
        return token
