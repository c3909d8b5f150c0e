"""Lists with their memberships and invites in the `lists`, `memberships` and `invites` tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import attrs
from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence.executors import Prepared
from adapters.persistence.numbering import (
    AT,
    BUMP,
    LIST_KIND,
    NO_LIST,
    NUMBER,
    PG_NUMBER,
    SQLITE_NUMBER,
    tombstones_from,
    touch_lists,
)
from adapters.persistence.rows import (
    INVITE_COLUMNS,
    LIST_COLUMNS,
    invite_from_row,
    list_from_row,
    member_from_row,
    view_from_row,
)
from adapters.persistence.statements import SqlRepository, Steps
from adapters.persistence.tables import invites, lists, memberships, users
from adapters.persistence.trash import BIN_LIST
from domain.lists import Invite, ListView, Member, Membership, Role, TaskList
from domain.types import ListId, UserId
from domain.users import User


def _param(table: Table, name: str, column: str | None = None) -> Any:
    # A parameter typed as `table`'s column `column` (by default: the one named `name`).
    return bindparam(name, type_=table.c[column or name].type)


_LIST: Final = _param(lists, "list_id", "id")
_USER: Final = _param(memberships, "user_id")
_OWNER: Final = _param(lists, "owner_id")
_AT_VERSION: Final = lists.c.version == bindparam("expected_version", type_=Integer)
_NEW_LIST: Final = {
    name: _param(lists, name)
    for name in ("owner_id", "name", "is_default", "version", "created_at", "updated_at")
}
_OWNER_ROLE: Final = literal_column(f"'{Role.OWNER.value}'", memberships.c.role.type)


def _ensure_owner(dialect_insert: Any) -> Any:
    # The owner, provisioned on their first list if first seen.
    values = dialect_insert(users).values(
        id=_OWNER,
        email=bindparam("owner_email", type_=users.c.email.type),
        name=bindparam("owner_name", type_=users.c.name.type),
        created_at=bindparam("owner_created_at", type_=users.c.created_at.type),
    )
    return values.on_conflict_do_nothing(index_elements=[users.c.id])


def _insert_list(dialect_insert: Any, number: Any, *, default: bool) -> Any:
    made = dialect_insert(lists).values({**_NEW_LIST, "changed": number})
    if default:
        # The unique partial index makes a concurrent first need wait for the other, then
        # insert nothing: exactly one default list per owner.
        made = made.on_conflict_do_nothing(
            index_elements=[lists.c.owner_id], index_where=lists.c.is_default
        )
    return made.returning(lists.c.id, lists.c.owner_id, lists.c.created_at)


_MEMBERSHIP_COLUMNS: Final = ["list_id", "user_id", "role", "joined_at", "changed"]


def _add_postgres(*, default: bool) -> Steps:
    # Owner, list and the owner's membership in one statement.
    made = _insert_list(postgresql.insert, PG_NUMBER, default=default).cte("made")
    member = insert(memberships).from_select(
        _MEMBERSHIP_COLUMNS,
        select(made.c.id, made.c.owner_id, _OWNER_ROLE, made.c.created_at, PG_NUMBER),
    )
    owner = _ensure_owner(postgresql.insert).cte("owner")
    return (Prepared(member.returning(memberships.c.list_id).add_cte(owner, made)),)


# SQLite: the owner, the list, then the owner's membership of the list just inserted.
_ENSURE_OWNER_SQLITE: Final = Prepared(_ensure_owner(sqlite.insert))
_OWNER_OF_LAST_LIST_SQLITE: Final = Prepared(
    insert(memberships)
    .from_select(
        _MEMBERSHIP_COLUMNS,
        select(lists.c.id, lists.c.owner_id, _OWNER_ROLE, lists.c.created_at, SQLITE_NUMBER).where(
            lists.c.id == func.last_insert_rowid()
        ),
    )
    .returning(memberships.c.list_id)
)


def _add_sqlite(*, default: bool) -> Steps:
    made = Prepared(_insert_list(sqlite.insert, SQLITE_NUMBER, default=default))
    return (*BUMP["sqlite"], _ENSURE_OWNER_SQLITE, made, _OWNER_OF_LAST_LIST_SQLITE)


ADD_LIST: Final = {
    "postgresql": _add_postgres(default=False),
    "sqlite": _add_sqlite(default=False),
}
ADD_DEFAULT_LIST: Final = {
    "postgresql": _add_postgres(default=True),
    "sqlite": _add_sqlite(default=True),
}
# Named unlike any column: a column's name is reserved for its value in INSERT and UPDATE.
_OF_LIST: Final = memberships.c.list_id == _param(memberships, "in_list", "list_id")
_MEMBER_ID: Final = _param(memberships, "member", "user_id")
_THE_MEMBERSHIP: Final = (_OF_LIST, memberships.c.user_id == _MEMBER_ID)
_IN_LIST: Final = _param(lists, "in_list", "id")


def _touched(number: Any, written: Any) -> Any:
    # The list of a membership written by the CTE `written` (returning list_id) is numbered.
    return touch_lists(number, lists.c.id.in_(select(written.c.list_id)))


def _membership_writes(dialect: str) -> dict[str, Steps]:
    # Each write of a membership numbers it and its list; an ended one leaves a delete of the
    # list in its member's feed.
    number = NUMBER[dialect]
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        name: _param(memberships, name) for name in ("list_id", "user_id", "role", "joined_at")
    }
    added = (
        dialect_insert(memberships)
        .values({**values, "changed": number})
        .on_conflict_do_nothing()
        .returning(memberships.c.list_id)
    )
    set_role = (
        update(memberships)
        .where(*_THE_MEMBERSHIP)
        .values(role=_param(memberships, "role"), changed=number)
        .returning(memberships.c.list_id)
    )
    ended = (
        delete(memberships)
        .where(*_THE_MEMBERSHIP)
        .returning(memberships.c.list_id, memberships.c.user_id)
    )
    if dialect == "postgresql":
        gone = ended.cte("gone")
        lost = tombstones_from(
            select(number, LIST_KIND, gone.c.list_id, NO_LIST, gone.c.user_id, AT)
        ).cte("lost")
        return {
            "add_member": (Prepared(_touched(number, added.cte("added"))),),
            "set_role": (Prepared(_touched(number, set_role.cte("set"))),),
            "remove_member": (Prepared(_touched(number, gone).add_cte(lost)),),
        }
    the_list = touch_lists(number, lists.c.id == _IN_LIST)
    lost = tombstones_from(
        select(number, LIST_KIND, memberships.c.list_id, NO_LIST, memberships.c.user_id, AT).where(
            *_THE_MEMBERSHIP
        )
    )
    bump = BUMP[dialect]
    by_list = touch_lists(number, lists.c.id == _param(lists, "list_id", "id"))
    return {
        "add_member": (*bump, Prepared(added), Prepared(by_list)),
        "set_role": (*bump, Prepared(set_role), Prepared(the_list)),
        "remove_member": (*bump, Prepared(lost), Prepared(ended), Prepared(the_list)),
    }


def _list_writes(dialect: str) -> dict[str, Steps]:
    # A rename numbers the list; a deletion leaves a delete of it in every member's feed.
    number = NUMBER[dialect]
    at_version = (lists.c.id == _LIST, _AT_VERSION)
    renamed = (
        update(lists)
        .where(*at_version)
        .values(
            {
                **{name: _param(lists, name) for name in ("name", "version", "updated_at")},
                "changed": number,
            }
        )
        .returning(lists.c.id)
    )
    members_lose_it = tombstones_from(
        select(number, LIST_KIND, memberships.c.list_id, NO_LIST, memberships.c.user_id, AT)
        .join_from(memberships, lists, lists.c.id == memberships.c.list_id)
        .where(*at_version)
    )
    # Its memberships and invites go with it (ON DELETE CASCADE), and its tasks, moved to the
    # trash first (BIN_LIST).
    removed = delete(lists).where(*at_version).returning(lists.c.id)
    if dialect == "postgresql":
        # The row is locked first, so that no membership or task is added between the members'
        # deletes and the trash being written and the list's delete (adding one waits for the
        # lock, then finds no list).
        locked = select(lists.c.id).where(*at_version).with_for_update()
        return {
            "replace_list": (Prepared(renamed),),
            "remove_list": (
                Prepared(locked),
                BIN_LIST,
                Prepared(removed.add_cte(members_lose_it.cte("lost"))),
            ),
        }
    bump = BUMP[dialect]
    return {
        "replace_list": (*bump, Prepared(renamed)),
        # Nothing is written unless the list is at the version.
        "remove_list": (
            Prepared(select(lists.c.id).where(*at_version)),
            *bump,
            Prepared(members_lose_it),
            BIN_LIST,
            Prepared(removed),
        ),
    }


LIST_WRITES: Final = {
    dialect: _membership_writes(dialect) | _list_writes(dialect)
    for dialect in ("postgresql", "sqlite")
}
"""Each dialect's writes of lists and memberships that the feed numbers, by Statements field."""

DEFAULT_LIST: Final = Prepared(
    select(*LIST_COLUMNS).where(lists.c.owner_id == _OWNER, lists.c.is_default.is_(True))
)
_MEMBER: Final = and_(memberships.c.list_id == lists.c.id, memberships.c.user_id == _USER)
_fellows = memberships.alias("fellow")
_VIEW_COLUMNS: Final = (
    *LIST_COLUMNS,
    memberships.c.role,
    select(func.count()).where(_fellows.c.list_id == lists.c.id).scalar_subquery(),
    lists.c.pending,
    lists.c.completed,
)
GET_VIEW: Final = Prepared(
    select(*_VIEW_COLUMNS).join_from(lists, memberships, _MEMBER).where(lists.c.id == _LIST)
)
ALL_VIEWS: Final = Prepared(
    select(*_VIEW_COLUMNS)
    .join_from(lists, memberships, _MEMBER)
    .order_by(lists.c.is_default.desc(), lists.c.name, lists.c.id)
)
ACCESS: Final = Prepared(
    select(*LIST_COLUMNS, memberships.c.role)
    .join_from(lists, memberships, _MEMBER)
    .where(lists.c.id == _LIST)
)
OWNED_COUNT: Final = Prepared(select(func.count()).where(lists.c.owner_id == _OWNER))
MEMBERS: Final = Prepared(
    select(
        memberships.c.user_id,
        users.c.name,
        users.c.email,
        memberships.c.role,
        memberships.c.joined_at,
    )
    .join_from(memberships, users, users.c.id == memberships.c.user_id)
    .where(_OF_LIST)
)
MEMBER_COUNT: Final = Prepared(select(func.count()).where(_OF_LIST))
ADD_INVITE: Final = Prepared(
    insert(invites).values({c.name: _param(invites, c.name) for c in INVITE_COLUMNS})
)
_CODE: Final = invites.c.code_hash == _param(invites, "code_hash")
OPEN_INVITES: Final = Prepared(
    select(*INVITE_COLUMNS)
    .where(
        invites.c.list_id == _param(invites, "list_id"),
        invites.c.expires_at > _param(invites, "now", "expires_at"),
    )
    .order_by(invites.c.created_at, invites.c.code_hash)
)
INVITE: Final = Prepared(select(*INVITE_COLUMNS).where(_CODE))
# One DELETE: of two concurrent takers, the second waits for the first to commit, then finds
# nothing to delete.
TAKE_INVITE: Final = Prepared(delete(invites).where(_CODE).returning(invites.c.code_hash))
# SKIP LOCKED: concurrent purges take disjoint rows instead of waiting on each other.
PURGE_INVITES: Final = Prepared(
    delete(invites)
    .where(
        invites.c.code_hash.in_(
            select(invites.c.code_hash)
            .where(invites.c.expires_at <= _param(invites, "expired_by", "expires_at"))
            .order_by(invites.c.expires_at)
            .limit(bindparam("limit", type_=Integer))
            .with_for_update(skip_locked=True)
        )
    )
    .returning(invites.c.code_hash)
)


class SqlListRepository(SqlRepository):
    """Lists, their memberships and invites, and each list's task counters, in one unit of work."""

    async def add(self, task_list: TaskList, owner: User) -> TaskList:
        """Insert the list, its owner if first seen, and the owner's membership."""
        rows = await self._steps(self._sql.add_list, _new_list(task_list, owner))
        self._touched.member(ListId(rows[0][0]), task_list.owner_id)
        return attrs.evolve(task_list, id=ListId(rows[0][0]))

    async def ensure_default(self, default: TaskList, owner: User) -> TaskList:
        """The owner's default list: read, else inserted (ON CONFLICT DO NOTHING), else read."""
        found = await self._default(default.owner_id)
        if found is not None:
            return found
        rows = await self._steps(self._sql.add_default_list, _new_list(default, owner))
        if rows:
            self._touched.member(ListId(rows[0][0]), default.owner_id)
            return attrs.evolve(default, id=ListId(rows[0][0]))
        # A concurrent first need inserted it and committed while ours waited.
        found = await self._default(default.owner_id)
        assert found is not None, "the conflicting default list is committed"
        return found

    async def _default(self, owner_id: UserId) -> TaskList | None:
        rows = await self._fetch(DEFAULT_LIST, {"owner_id": owner_id})
        return list_from_row(rows[0]) if rows else None

    async def get(self, user_id: UserId, list_id: ListId) -> ListView | None:
        """The list with the user's role, member count and counters, if a member."""
        rows = await self._fetch(GET_VIEW, {"user_id": user_id, "list_id": list_id})
        return view_from_row(rows[0]) if rows else None

    async def access(self, user_id: UserId, list_id: ListId) -> tuple[TaskList, Role] | None:
        """The list and the user's role in it, if a member, in one statement."""
        rows = await self._fetch(ACCESS, {"user_id": user_id, "list_id": list_id})
        return (list_from_row(rows[0]), Role(rows[0][-1])) if rows else None

    async def all_for(self, user_id: UserId) -> list[ListView]:
        """The user's lists: the default first, then by name (code points), then by id."""
        return [view_from_row(row) for row in await self._fetch(ALL_VIEWS, {"user_id": user_id})]

    async def owned_count(self, owner_id: UserId) -> int:
        """How many lists the user owns."""
        count: int = await self._one(OWNED_COUNT, {"owner_id": owner_id})
        return count

    async def replace(self, task_list: TaskList, previous: TaskList) -> bool:
        """Overwrite the name and version if the stored list is still at `previous.version`."""
        params = {
            "list_id": task_list.id,
            "expected_version": previous.version,
            "name": task_list.name,
            "version": task_list.version,
            "updated_at": task_list.updated_at,
        }
        done = bool(await self._steps(self._sql.replace_list, params))
        if done:
            self._touched.list(task_list.id)
        return done

    async def remove(self, task_list: TaskList, by: UserId, at: datetime) -> bool:
        """Delete the list, its tasks moved to the trash first, and by cascade its memberships
        and invites, if at its version, leaving a delete of it in each member's feed."""
        params = {
            "list_id": task_list.id,
            "in_list": task_list.id,
            "expected_version": task_list.version,
            "binned_at": at,
            "binned_by": by,
            "at": at,
        }
        done = bool(await self._steps(self._sql.remove_list, params))
        if done:
            self._touched.list(task_list.id)
        return done

    async def members(self, list_id: ListId) -> list[Member]:
        """The members with their names and e-mails: the owner first, then by joining, then id."""
        members = [member_from_row(row) for row in await self._fetch(MEMBERS, {"in_list": list_id})]
        # At most MEMBERS_MAX rows, ordered here by the very key the port names (ids compared
        # as code points whatever the database's collation).
        members.sort(key=lambda m: (m.role is not Role.OWNER, m.joined_at, m.user_id))
        return members

    async def member_count(self, list_id: ListId) -> int:
        """How many members the list has."""
        count: int = await self._one(MEMBER_COUNT, {"in_list": list_id})
        return count

    async def add_member(self, membership: Membership) -> bool:
        """Insert the membership unless the user is a member already."""
        params = {
            "list_id": membership.list_id,
            "user_id": membership.user_id,
            "role": membership.role.value,
            "joined_at": membership.joined_at,
        }
        done = bool(await self._steps(self._sql.add_member, params))
        if done:
            self._touched.member(membership.list_id, membership.user_id)
        return done

    async def set_role(self, list_id: ListId, user_id: UserId, role: Role) -> bool:
        """Change a member's role; whether they are a member."""
        params = {"in_list": list_id, "member": user_id, "role": role.value}
        done = bool(await self._steps(self._sql.set_role, params))
        if done:
            self._touched.member(list_id, user_id)
        return done

    async def remove_member(self, list_id: ListId, user_id: UserId, now: datetime) -> bool:
        """Delete the membership, leaving a delete of the list in the member's feed; whether
        there was one."""
        params = {"in_list": list_id, "member": user_id, "at": now}
        done = bool(await self._steps(self._sql.remove_member, params))
        if done:
            self._touched.member(list_id, user_id)
        return done

    async def add_invite(self, invite: Invite) -> None:
        """Insert the invite."""
        values = {name: getattr(invite, name) for name in (c.name for c in INVITE_COLUMNS)}
        await self._fetch(ADD_INVITE, values | {"role": invite.role.value})

    async def invites(self, list_id: ListId, now: datetime) -> list[Invite]:
        """The list's invites open at `now`, oldest first."""
        rows = await self._fetch(OPEN_INVITES, {"list_id": list_id, "now": now})
        return [invite_from_row(row) for row in rows]

    async def invite(self, code_hash: str) -> Invite | None:
        """The invite under `code_hash`, expired or not."""
        rows = await self._fetch(INVITE, {"code_hash": code_hash})
        return invite_from_row(rows[0]) if rows else None

    async def take_invite(self, code_hash: str) -> bool:
        """Delete the invite; whether this call did."""
        return bool(await self._fetch(TAKE_INVITE, {"code_hash": code_hash}))

    async def purge_invites(self, expired_by: datetime, limit: int) -> int:
        """Delete up to `limit` expired invites, earliest first, skipping rows others hold."""
        return len(await self._fetch(PURGE_INVITES, {"expired_by": expired_by, "limit": limit}))


def _new_list(task_list: TaskList, owner: User) -> dict[str, object]:
    return {
        "owner_id": task_list.owner_id,
        "name": task_list.name,
        "is_default": task_list.is_default,
        "version": task_list.version,
        "created_at": task_list.created_at,
        "updated_at": task_list.updated_at,
        "owner_email": owner.email,
        "owner_name": owner.name,
        "owner_created_at": owner.created_at,
    }
