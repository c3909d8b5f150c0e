"""The list use cases on the in-memory store: sharing, revoking, invites, members and limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from domain.errors import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed
from domain.lists import (
    DEFAULT_LIST_NAME,
    LISTS_PER_OWNER_MAX,
    MEMBERS_MAX,
    InviteTerms,
    Role,
    hash_invite_code,
)
from domain.queries import TaskCounts, TaskQuery
from domain.types import ListId, TaskId, UserId
from domain.users import Caller, Principal
from tests.unit.sharing import ALICE, BOB, CAROL, Household, changes

MISSING = ListId(999_999)


@pytest.fixture
def home() -> Household:
    return Household()


def failure(exc: DomainError) -> tuple[type[DomainError], str]:
    """What an adapter makes of an error: its kind and its message."""
    return type(exc), exc.message


async def test_the_default_list_is_made_on_first_need_once(home: Household) -> None:
    assert not home.store.state.lists
    [inbox] = await home.lists.list_all(ALICE)
    assert (inbox.list.name, inbox.list.is_default, inbox.role) == (
        DEFAULT_LIST_NAME,
        True,
        "owner",
    )
    task = await home.add(ALICE)
    assert home.store.state.tasks[task].list_id == inbox.list.id
    assert [v.list.id for v in await home.lists.list_all(ALICE)] == [inbox.list.id]
    assert len(home.store.state.lists) == 1


async def test_a_first_task_makes_the_default_list_in_its_own_write(home: Household) -> None:
    task = await home.add(BOB)
    [inbox] = home.store.state.lists.values()
    assert (inbox.owner_id, inbox.is_default) == ("bob", True)
    assert home.store.state.tasks[task].list_id == inbox.id
    assert home.store.state.tasks[task].created_by == "bob"


async def test_lists_come_default_first_then_by_name(home: Household) -> None:
    for name in ("Zoo", "Apples", "Market"):
        await home.new_list(ALICE, name)
    names = [v.list.name for v in await home.lists.list_all(ALICE)]
    assert names == [DEFAULT_LIST_NAME, "Apples", "Market", "Zoo"]


async def test_the_default_list_is_never_deleted_nor_shared(home: Household) -> None:
    [inbox] = await home.lists.list_all(ALICE)
    with pytest.raises(Conflict):
        await home.lists.delete(ALICE, inbox.list.id)
    with pytest.raises(Conflict):
        await home.lists.create_invite(ALICE, inbox.list.id, InviteTerms(role=Role.EDITOR))
    renamed = await home.lists.rename(ALICE, inbox.list.id, "Mine")
    assert (renamed.list.name, renamed.list.is_default, renamed.list.version) == ("Mine", True, 2)


async def test_two_people_share_a_list(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    assert [v.list.name for v in await home.lists.list_all(BOB)] == [DEFAULT_LIST_NAME, "Groceries"]
    seen = await home.lists.get(BOB, groceries)
    assert (seen.role, seen.members, seen.counts) == ("editor", 2, TaskCounts(pending=1))
    assert (await home.tasks.get(BOB, milk)).title == "milk"
    bread = await home.add(BOB, "bread", list_id=groceries)
    stored = home.store.state.tasks[bread]
    assert (stored.user_id, stored.created_by) == ("alice", "bob")
    await home.tasks.set_completion(BOB, milk, completed=True)
    page = await home.tasks.list_page(ALICE, TaskQuery(list_id=groceries))
    assert {t.title for t in page.tasks} == {"milk", "bread"}
    assert page.counts == TaskCounts(pending=1, completed=1)


async def test_three_people_each_in_their_role(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    await home.share(groceries, ALICE, CAROL, Role.VIEWER)
    milk = await home.add(BOB, "milk", list_id=groceries)
    assert (await home.tasks.get(CAROL, milk)).title == "milk"
    for refused in (
        home.add(CAROL, "eggs", list_id=groceries),
        home.tasks.update(CAROL, milk, changes(title="x")),
        home.tasks.set_completion(CAROL, milk, completed=True),
        home.tasks.delete(CAROL, milk),
        home.lists.rename(BOB, groceries, "x"),
        home.lists.delete(BOB, groceries),
        home.lists.create_invite(BOB, groceries, InviteTerms(role=Role.VIEWER)),
        home.lists.invites(CAROL, groceries),
        home.lists.change_role(BOB, groceries, CAROL.owner, Role.EDITOR),
        home.lists.remove_member(BOB, groceries, CAROL.owner),
    ):
        with pytest.raises(Forbidden):
            await refused
    assert home.store.state.tasks[milk].version == 1
    members = await home.lists.members(CAROL, groceries)
    assert [(m.user_id, m.role) for m in members.members] == [
        ("alice", "owner"),
        ("bob", "editor"),
        ("carol", "viewer"),
    ]
    assert not members.with_email
    assert {m.email for m in members.members} == {None}
    mine = await home.lists.members(ALICE, groceries)
    assert mine.with_email
    assert [m.email for m in mine.members] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


async def test_a_non_member_gets_exactly_what_a_missing_id_gets(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    gone = await home.add(ALICE, "gone", list_id=groceries)
    await home.tasks.delete(ALICE, gone)
    pairs = [
        (home.lists.get(BOB, groceries), home.lists.get(BOB, MISSING)),
        (home.lists.members(BOB, groceries), home.lists.members(BOB, MISSING)),
        (home.lists.rename(BOB, groceries, "x"), home.lists.rename(BOB, MISSING, "x")),
        (home.lists.delete(BOB, groceries), home.lists.delete(BOB, MISSING)),
        (home.tasks.get(BOB, milk), home.tasks.get(BOB, gone)),
        (home.tasks.delete(BOB, milk), home.tasks.delete(BOB, gone)),
        (
            home.tasks.list_page(BOB, TaskQuery(list_id=groceries)),
            home.tasks.list_page(BOB, TaskQuery(list_id=MISSING)),
        ),
        (home.add(BOB, list_id=groceries), home.add(BOB, list_id=MISSING)),
        (home.add(BOB, parent_id=milk), home.add(BOB, parent_id=gone)),
    ]
    for hidden, missing in pairs:
        with pytest.raises(NotFound) as seen_hidden:
            await hidden
        with pytest.raises(NotFound) as seen_missing:
            await missing
        assert failure(seen_hidden.value) == failure(seen_missing.value)
    assert home.store.state.tasks[milk].version == 1


async def test_removing_a_member_ends_their_access_at_once(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    await home.share(groceries, ALICE, CAROL, Role.VIEWER)
    removed = await home.lists.remove_member(ALICE, groceries, BOB.owner)
    assert (removed.user_id, removed.role) == ("bob", "editor")
    for call in (home.tasks.get(BOB, milk), home.lists.get(BOB, groceries)):
        with pytest.raises(NotFound):
            await call
    assert [v.list.name for v in await home.lists.list_all(BOB)] == [DEFAULT_LIST_NAME]
    assert (await home.tasks.list_page(BOB, TaskQuery())).tasks == []
    left = await home.lists.remove_member(CAROL, groceries, CAROL.owner)
    assert left.user_id == "carol"
    with pytest.raises(NotFound):
        await home.tasks.get(CAROL, milk)
    assert (await home.lists.get(ALICE, groceries)).members == 1


async def test_the_owner_cannot_leave_nor_lose_the_role(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    with pytest.raises(Conflict):
        await home.lists.remove_member(ALICE, groceries, ALICE.owner)
    with pytest.raises(Conflict):
        await home.lists.change_role(ALICE, groceries, ALICE.owner, Role.VIEWER)
    with pytest.raises(NotFound) as nobody:
        await home.lists.remove_member(ALICE, groceries, CAROL.owner)
    assert nobody.value.message == "No such member."
    changed = await home.lists.change_role(ALICE, groceries, BOB.owner, Role.VIEWER)
    assert (changed.role, changed.email) == ("viewer", "bob@example.com")
    with pytest.raises(Forbidden):
        await home.add(BOB, list_id=groceries)


async def test_an_invite_works_once(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.VIEWER))
    assert len(issued.code) >= 43  # 256 bits in URL-safe base64
    assert issued.invite.code_hash == hash_invite_code(issued.code)
    assert issued.code not in repr(home.store.state.invites)
    joined = await home.lists.accept_invite(BOB, issued.code)
    assert (joined.list.id, joined.role, joined.members) == (groceries, "viewer", 2)
    with pytest.raises(NotFound) as used:
        await home.lists.accept_invite(CAROL, issued.code)
    with pytest.raises(NotFound) as unknown:
        await home.lists.accept_invite(CAROL, "no-such-code")
    assert failure(used.value) == failure(unknown.value)


async def test_a_refused_accept_leaves_the_invite_open(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.VIEWER))
    with pytest.raises(Conflict):
        await home.lists.accept_invite(BOB, issued.code)
    with pytest.raises(Conflict):
        await home.lists.accept_invite(ALICE, issued.code)
    assert len(await home.lists.invites(ALICE, groceries)) == 1
    assert (await home.lists.accept_invite(CAROL, issued.code)).role == "viewer"
    assert await home.lists.invites(ALICE, groceries) == []


async def test_an_invite_expires(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    terms = InviteTerms(role=Role.EDITOR, lifetime=timedelta(seconds=60))
    issued = await home.lists.create_invite(ALICE, groceries, terms)
    [open_invite] = await home.lists.invites(ALICE, groceries)
    assert open_invite.expires_at == issued.invite.expires_at
    home.clock.moment += timedelta(seconds=61)
    assert await home.lists.invites(ALICE, groceries) == []
    with pytest.raises(NotFound) as expired:
        await home.lists.accept_invite(BOB, issued.code)
    assert expired.value.message == "No such invite."


async def test_a_withdrawn_invite_no_longer_works(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    other = await home.new_list(ALICE, "Other")
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    with pytest.raises(NotFound):
        await home.lists.withdraw_invite(ALICE, other, issued.code)
    withdrawn = await home.lists.withdraw_invite(ALICE, groceries, issued.code)
    assert withdrawn.code_hash == issued.invite.code_hash
    with pytest.raises(NotFound):
        await home.lists.accept_invite(BOB, issued.code)
    with pytest.raises(NotFound):
        await home.lists.withdraw_invite(ALICE, groceries, issued.code)


async def test_a_list_holds_at_most_fifty_members(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    for n in range(1, MEMBERS_MAX):
        guest = Caller.of(Principal(user_id=UserId(f"guest-{n}")))
        await home.share(groceries, ALICE, guest, Role.VIEWER)
    assert (await home.lists.get(ALICE, groceries)).members == MEMBERS_MAX
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.VIEWER))
    with pytest.raises(Conflict):
        await home.lists.accept_invite(BOB, issued.code)
    await home.lists.remove_member(ALICE, groceries, UserId("guest-1"))
    assert (await home.lists.accept_invite(BOB, issued.code)).members == MEMBERS_MAX


async def test_a_user_owns_at_most_a_thousand_lists(home: Household) -> None:
    for n in range(LISTS_PER_OWNER_MAX - 1):
        await home.new_list(ALICE, f"list {n}")
    assert len(await home.lists.list_all(ALICE)) == LISTS_PER_OWNER_MAX
    with pytest.raises(Conflict):
        await home.new_list(ALICE, "one too many")
    groceries = await home.new_list(BOB)
    await home.share(groceries, BOB, ALICE, Role.EDITOR)
    assert len(await home.lists.list_all(ALICE)) == LISTS_PER_OWNER_MAX + 1


async def test_rename_honours_if_match(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    with pytest.raises(PreconditionFailed):
        await home.lists.rename(ALICE, groceries, "Food", expected=frozenset({2}))
    renamed = await home.lists.rename(ALICE, groceries, "Food", expected=frozenset({1}))
    assert (renamed.list.name, renamed.list.version) == ("Food", 2)
    same = await home.lists.rename(ALICE, groceries, "Food")
    assert same.list.version == 2


async def test_deleting_a_list_takes_its_tasks_members_and_invites(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    milk = await home.add(ALICE, "milk", list_id=groceries)
    await home.add(ALICE, "cheese", list_id=groceries, parent_id=milk)
    await home.share(groceries, ALICE, BOB, Role.EDITOR)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    with pytest.raises(PreconditionFailed):
        await home.lists.delete(ALICE, groceries, expected=frozenset({7}))
    deleted = await home.lists.delete(ALICE, groceries)
    assert (deleted.list.id, deleted.members, deleted.counts) == (
        groceries,
        2,
        TaskCounts(pending=2),
    )
    state = home.store.state
    assert not [t for t in state.tasks.values() if t.list_id == groceries]
    assert not [k for k in state.memberships if k[0] == groceries]
    assert not state.invites
    with pytest.raises(NotFound):
        await home.lists.accept_invite(CAROL, issued.code)
    with pytest.raises(NotFound):
        await home.tasks.get(ALICE, TaskId(milk))


async def test_a_refused_call_writes_nothing(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    await home.share(groceries, ALICE, CAROL, Role.VIEWER)
    before = home.store.state
    for refused in (
        home.add(CAROL, list_id=groceries),
        home.lists.create_invite(CAROL, groceries, InviteTerms(role=Role.VIEWER)),
        home.lists.accept_invite(BOB, "nothing"),
    ):
        with pytest.raises(DomainError):
            await refused
    assert home.store.state is before


async def test_the_path_user_must_be_the_caller(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    bob_at_alices = Caller(principal=BOB.principal, owner=ALICE.owner)
    for call in (
        home.lists.get(bob_at_alices, groceries),
        home.lists.list_all(bob_at_alices),
        home.lists.create(bob_at_alices, "x"),
        home.lists.accept_invite(bob_at_alices, "x"),
    ):
        with pytest.raises(Forbidden):
            await call


async def test_of_two_concurrent_accepts_exactly_one_joins(home: Household) -> None:
    groceries = await home.new_list(ALICE)
    issued = await home.lists.create_invite(ALICE, groceries, InviteTerms(role=Role.EDITOR))
    outcomes = await asyncio.gather(
        home.lists.accept_invite(BOB, issued.code),
        home.lists.accept_invite(CAROL, issued.code),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ListView", "NotFound"]
    assert (await home.lists.get(ALICE, groceries)).members == 2
