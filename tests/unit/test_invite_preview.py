"""What the web UI's invite and share pages ask of the list use cases beyond the API's needs:
an invite's preview before accepting, and withdrawing an invite named by its stored hash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import Forbidden, NotFound
from domain.lists import InviteTerms, Role
from tests.unit.sharing import ALICE, BOB, CAROL, Household


@pytest.fixture
def home() -> Household:
    return Household()


async def test_a_preview_names_the_list_and_role_and_uses_nothing_up(home: Household) -> None:
    groceries = await home.new_list(ALICE, "Groceries")
    await home.share(groceries, ALICE, CAROL, Role.VIEWER)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    preview = await home.lists.preview_invite(BOB, issued.code)
    assert (preview.list_id, preview.name, preview.role, preview.members) == (
        groceries,
        "Groceries",
        Role.EDITOR,
        2,
    )
    assert preview.expires_at == issued.invite.expires_at
    assert not preview.is_member
    assert (await home.lists.preview_invite(CAROL, issued.code)).is_member
    assert len(await home.lists.invites(ALICE, groceries)) == 1
    assert (await home.lists.accept_invite(BOB, issued.code)).role == Role.EDITOR


async def test_a_preview_of_a_used_expired_or_unknown_code_is_not_found(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    used = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    await home.lists.accept_invite(BOB, used.code)
    short = InviteTerms(role=Role.VIEWER, lifetime=timedelta(seconds=60))
    expiring = await home.lists.create_invite(ALICE, groceries, short)
    home.clock.moment += timedelta(seconds=61)
    for code in (used.code, expiring.code, "no-such-code"):
        with pytest.raises(NotFound) as refused:
            await home.lists.preview_invite(CAROL, code)
        assert refused.value.message == "No such invite."


async def test_a_preview_of_a_deleted_lists_invite_is_not_found(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    await home.lists.delete(ALICE, groceries)
    with pytest.raises(NotFound):
        await home.lists.preview_invite(BOB, issued.code)


async def test_the_owner_withdraws_an_invite_by_its_hash(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    other = await home.new_list(ALICE, "Other")
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.VIEWER))
    [listed] = await home.lists.invites(ALICE, groceries)
    with pytest.raises(Forbidden):
        await home.lists.withdraw_invite_by_hash(BOB, groceries, listed.code_hash)
    with pytest.raises(NotFound):
        await home.lists.withdraw_invite_by_hash(CAROL, groceries, listed.code_hash)
    with pytest.raises(NotFound):
        await home.lists.withdraw_invite_by_hash(ALICE, other, listed.code_hash)
    withdrawn = await home.lists.withdraw_invite_by_hash(ALICE, groceries, listed.code_hash)
    assert withdrawn == issued.invite
    assert await home.lists.invites(ALICE, groceries) == []
    with pytest.raises(NotFound):
        await home.lists.accept_invite(CAROL, issued.code)
