"""What the application needs from the outside world, as structural protocols."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Final, Protocol, Self

import attrs

from domain.accounts import Account
from domain.idempotency import IdempotencyRecord
from domain.identities import ExternalIdentity
from domain.lists import Invite, ListView, Member, Membership, Role, TaskList
from domain.personal_tokens import PersonalToken
from domain.queries import TaskCounts, TaskQuery
from domain.sessions import EndedSessions, IssuedSession
from domain.sync import Change, FeedPosition, ListStamp
from domain.tasks import Task
from domain.throttling import Bucket
from domain.trash import TrashedTask, TrashPosition
from domain.types import ListId, TaskId, UserId
from domain.users import Principal, User

MAX_TOKEN_LENGTH: Final = 8 * 1024
"""The longest bearer token read at all: a longer one is refused unread, by the driving adapters
before and by every TokenVerifier in any case."""
MIN_SECRET_BYTES: Final = 32
"""The shortest shared secret (BETTER_AUTH_SECRET) accepted: an HMAC-SHA256 key, and the keys
derived from it, need that many bytes of strength."""


class TaskRepository(Protocol):
    """Tasks inside one unit of work, seen through list membership (SPEC §7).

    A task belongs to a list (`list_id`), and `user_id` is that list's owner. Every read that
    takes a `user_id` sees only the tasks of lists that user is a member of, whatever their
    role, and is scoped by membership first. Each list keeps O(1) counters of its pending and
    completed tasks (top-level and subtasks alike), kept by the writes below.

    Positions (domain.placement): a top-level task's is its key; a subtask's is its parent's
    position, ".", its key. Siblings are the tasks of one list with one parent (None: the
    top level); "in position order" is by (position, id) ascending, positions compared as
    bytes (PostgreSQL: COLLATE "C").
    """

    async def add(self, task: Task, creator: User) -> Task:
        """Store a new task (list, parent, position and owner already set) and return it with its
        id; `creator` is stored first if first seen; the task's list counts one more task."""

    async def get_visible(self, user_id: UserId, task_id: TaskId) -> tuple[Task, Role] | None:
        """The task `task_id` and `user_id`'s role in its list, in one round trip; None when the
        task does not exist or `user_id` is no member of its list (the two alike)."""

    async def replace(self, task: Task, previous: Task) -> bool:
        """Store `task` over `previous` if the stored row is still at `previous.version`; whether
        it was. Its list's counters follow a change of completion, and when `task.list_id`
        differs from `previous.list_id` it leaves the old list's counters for the new one's."""

    async def remove(self, task: Task, by: UserId, at: datetime) -> bool:
        """Move `task` and its subtasks to the trash (deleted by `by` at `at`, `task` their
        root) if the stored row is still at `task.version`; whether it was. Its list's counters
        lose every task moved; none of them is a task any more (no read above finds it), and
        each leaves a delete in the feed of its list's members, dated `at`."""

    async def page(self, user_id: UserId, query: TaskQuery) -> list[Task]:
        """At most `query.limit` tasks matching the query (its scope: every list `user_id` is a
        member of, or `query.list_id` if a member; `query.parent`), in its order, after its
        position; a page costs the same at any depth and any number of lists."""

    async def counts(self, user_id: UserId, list_id: ListId | None = None) -> TaskCounts:
        """The pending and completed counts summed over the lists in scope: every list `user_id`
        is a member of, or `list_id` alone (zero if not a member); O(1) per list."""

    async def page_with_counts(
        self, user_id: UserId, query: TaskQuery
    ) -> tuple[list[Task], TaskCounts]:
        """`page(user_id, query)` and `counts(user_id, query.list_id)` read together, so that a
        store may answer both at once."""

    async def last_position(self, list_id: ListId, parent_id: TaskId | None) -> str | None:
        """The greatest position among the siblings (tasks of `list_id` with parent `parent_id`,
        None: top-level tasks only); None when there are none."""

    async def position_after(
        self,
        list_id: ListId,
        parent_id: TaskId | None,
        position: str | None,
        excluding: TaskId,
    ) -> str | None:
        """The least position among the siblings (as last_position) that is greater than
        `position` (any, when None), task `excluding` left out; None when there is none."""

    async def subtasks(self, parent_id: TaskId) -> list[Task]:
        """Every subtask of task `parent_id`, in position order (no membership check: the
        caller has read the parent)."""

    async def in_list(self, list_id: ListId) -> list[Task]:
        """Every task of `list_id`, top-level and subtasks, in position order (so each parent
        is followed by its subtasks): what respacing a list's top level rewrites."""


class ListRepository(Protocol):
    """Task lists with their memberships and invites, inside one unit of work.

    One repository for the three tables, as they are one aggregate: a list's members and
    invites exist only with it and go with it. A list's owner is also a member (role owner),
    from the list's creation; every user has at most one default list.
    """

    async def add(self, task_list: TaskList, owner: User) -> TaskList:
        """Store a new list (id 0 in `task_list`) with its owner's membership (joined at its
        `created_at`) and zero counters, and return it with its id; `owner` is stored first if
        first seen."""

    async def ensure_default(self, default: TaskList, owner: User) -> TaskList:
        """The default list of `default.owner_id`; when they have none, `default` (unsaved, is
        default) is stored as `add` does. Concurrent first calls make one list, never two."""

    async def get(self, user_id: UserId, list_id: ListId) -> ListView | None:
        """List `list_id` as `user_id` sees it (role, member count, counters); None when it
        does not exist or `user_id` is no member (the two alike)."""

    async def access(self, user_id: UserId, list_id: ListId) -> tuple[TaskList, Role] | None:
        """List `list_id` and `user_id`'s role in it, in one round trip; None as for `get`."""

    async def all_for(self, user_id: UserId) -> list[ListView]:
        """Every list `user_id` is a member of, as `get` shows one: their default list first,
        then by name (compared as code points), then by id."""

    async def owned_count(self, owner_id: UserId) -> int:
        """How many lists `owner_id` owns (their default list included)."""

    async def replace(self, task_list: TaskList, previous: TaskList) -> bool:
        """Store `task_list` over `previous` if the stored row is still at `previous.version`;
        whether it was."""

    async def remove(self, task_list: TaskList, by: UserId, at: datetime) -> bool:
        """Delete the list with its memberships and invites if the stored row is still at
        `task_list.version`, its tasks moved to the trash first (deleted by `by` at `at`, each
        top-level task the root of its subtasks); whether it was. Each member's feed gets a
        delete of the list, dated `at`."""

    async def members(self, list_id: ListId) -> list[Member]:
        """Every member of `list_id` with their user's name and e-mail: the owner first, then
        by joined_at, then by user id."""

    async def member_count(self, list_id: ListId) -> int:
        """How many members `list_id` has, its owner included (0 for no such list)."""

    async def add_member(self, membership: Membership) -> bool:
        """Store `membership` unless its user is already a member of its list; whether it was
        stored (the user must exist)."""

    async def set_role(self, list_id: ListId, user_id: UserId, role: Role) -> bool:
        """Give member `user_id` of `list_id` the role `role`; whether they are a member."""

    async def remove_member(self, list_id: ListId, user_id: UserId, now: datetime) -> bool:
        """End `user_id`'s membership of `list_id` at once; whether they were a member. Their
        feed gets a delete of the list, dated `now`."""

    async def add_invite(self, invite: Invite) -> None:
        """Store a new invite (its `code_hash` is unique: 256 random bits)."""

    async def invites(self, list_id: ListId, now: datetime) -> list[Invite]:
        """The invites of `list_id` still open at `now` (expiring after it), oldest first."""

    async def invite(self, code_hash: str) -> Invite | None:
        """The invite stored under `code_hash`, expired or not; None when there is none."""

    async def take_invite(self, code_hash: str) -> bool:
        """Delete the invite under `code_hash`; whether this call deleted it, so that of two
        concurrent takers exactly one gets True (the other waits, then gets False)."""

    async def purge_invites(self, expired_by: datetime, limit: int) -> int:
        """Delete at most `limit` invites of any list that expired at or before `expired_by`;
        how many."""


class ChangeRepository(Protocol):
    """The change feed (domain.sync) inside one unit of work.

    Every write of the other repositories numbers what it writes (`changed`) and records what
    leaves a member's sight (tombstones), in its own statement or transaction; this reads the
    result. A number once read is final: no entry can later appear before a position this
    returned (PostgreSQL: only numbers of transactions that have all ended are read).
    """

    async def page(self, user_id: UserId, after: FeedPosition | None, limit: int) -> list[Change]:
        """At most `limit` entries of `user_id`'s feed after `after` (from the start: None), in
        position order; an entity may appear more than once (domain.sync.latest_per_entity)."""

    async def stamps(self, user_id: UserId, list_id: ListId | None = None) -> list[ListStamp]:
        """Each list in `user_id`'s scope (every list they are a member of, or `list_id` alone:
        none when not a member) with its newest change number and their membership's; one
        indexed lookup, no task read."""

    async def horizon(self) -> int:
        """The greatest change number of a purged delete (0 before any): a position at or
        below it may have missed one."""

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete at most `limit` deletes recorded at or before `expired_by`, oldest first,
        moving the horizon past them; how many."""


class TrashRepository(Protocol):
    """Deleted tasks (SPEC §8) inside one unit of work; `tasks.remove` and `lists.remove` put
    them here, out of every read of TaskRepository.

    An entry is a root (a task deleted, or a top-level task of a deleted list) with the
    subtasks deleted with it; the methods below name an entry by its root's id. A user sees the
    entries of the lists in which their role is one of `roles`, and, when `roles` holds the
    owner's, those of their own lists that are gone; entries keep their list's id and owner.
    """

    async def page(
        self,
        user_id: UserId,
        roles: frozenset[Role],
        after: TrashPosition | None,
        limit: int,
    ) -> list[TrashedTask]:
        """At most `limit` entries (roots only) that `user_id` sees, most recently deleted
        first (by deleted_at, then id, both descending), after `after` when given."""

    async def get_visible(
        self, user_id: UserId, task_id: TaskId
    ) -> tuple[TrashedTask, Role] | None:
        """Entry `task_id` and `user_id`'s role in its list (the owner's for their own list
        that is gone); None when there is no such entry or no such role (the two alike)."""

    async def family(self, root: TaskId) -> list[TrashedTask]:
        """The subtasks deleted with entry `root`, in position order (no check: the caller has
        read the entry)."""

    async def restore(self, root: TaskId, tasks: Sequence[Task]) -> bool:
        """Take entry `root` out of the trash and store `tasks` (its root, then the subtasks
        deleted with it, placed, with their ids) as tasks, counted in their list; whether the
        entry was still in the trash (of two concurrent restores, one gets False)."""

    async def purge(self, root: TaskId) -> bool:
        """Delete entry `root` with its subtasks for good; whether it was in the trash."""

    async def empty(self, user_id: UserId, roles: frozenset[Role]) -> int:
        """Delete every entry `user_id` sees (as `page` does) for good; how many tasks."""

    async def purge_expired(self, deleted_by: datetime, limit: int) -> int:
        """Delete at most `limit` entries of anyone's deleted at or before `deleted_by`, with
        their subtasks, earliest first; how many entries."""

    async def of_owner(
        self, owner_id: UserId, after: TrashPosition | None, limit: int
    ) -> list[TrashedTask]:
        """At most `limit` trashed tasks (roots and subtasks) of lists `owner_id` owns or owned,
        most recently deleted first, after `after` when given: what their export holds."""


class UserRepository(Protocol):
    """Users inside one unit of work."""

    async def get(self, user_id: UserId) -> User | None:
        """The user `user_id`, if known."""

    async def ensure(self, user: User) -> None:
        """Store `user` unless a user with its id exists; safe under concurrent first requests."""

    async def account_by_email(self, email_key: str) -> Account | None:
        """The local account whose lower-cased e-mail is `email_key`."""

    async def add_account(self, account: Account, email_key: str) -> None:
        """Store a new local account; Conflict if the e-mail (case-insensitively) is taken."""

    async def password_hash(self, user_id: UserId) -> str | None:
        """The hash of the user's password; None for a user without one (or no such user)."""

    async def set_password(self, user_id: UserId, password_hash: str) -> bool:
        """Replace the password hash of a user who has one; whether there was one."""

    async def remove(self, user_id: UserId, now: datetime) -> bool:
        """Erase the user and everything they own (tasks, their trash, keys, sessions, tokens,
        identities); the other members of the lists they owned get a delete of each in their
        feed, dated `now`."""


@attrs.frozen(kw_only=True)
class FoundToken:
    """A personal access token found by its hash, and what else its check needs."""

    token: PersonalToken
    token_hash: str
    sessions_ended_before: datetime | None
    """The owner's cut-off: every token issued before it is void (sign-out everywhere)."""


class PersonalTokenRepository(Protocol):
    """Users' personal access tokens, kept as hashes, inside one unit of work."""

    async def add(self, token: PersonalToken, token_hash: str) -> None:
        """Store a new token under the hash of its secret."""

    async def of_user(self, user_id: UserId) -> list[PersonalToken]:
        """The user's tokens, expired ones too, newest first."""

    async def find(self, token_hash: str) -> FoundToken | None:
        """The token with this hash, with its owner's cut-off; None when there is none."""

    async def remove(self, user_id: UserId, token_id: str) -> bool:
        """Delete the user's token `token_id`; whether it existed."""


class IdentityRepository(Protocol):
    """The people an OpenID Provider signs in, by issuer and subject, inside one unit of work."""

    async def user_of(self, issuer: str, subject: str) -> User | None:
        """The user that this issuer's subject signed up as, if any."""

    async def of_user(self, user_id: UserId) -> list[ExternalIdentity]:
        """The identities that sign the user in (issuer and subject only)."""

    async def add(self, identity: ExternalIdentity, user: User) -> bool:
        """Store a new user for the identity; False if the identity is taken, and then the unit of
        work must not be committed (another sign-in stored it first)."""


class IdempotencyRepository(Protocol):
    """The answers kept for users' idempotency keys, inside one unit of work."""

    async def get(self, user_id: UserId, key: str) -> IdempotencyRecord | None:
        """The record of `user_id`'s `key`, expired or not."""

    async def claim(self, record: IdempotencyRecord, expired_by: datetime) -> bool:
        """Store `record` unless its user holds its key in a record newer than `expired_by`.

        An expired record with the key is replaced. A concurrent claim of the same key waits for
        the other unit of work to finish, so at most one of them stores its record.
        """

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete at most `limit` records of any user created at or before `expired_by`."""


class SessionRepository(Protocol):
    """Which sessions of the service's own tokens have ended, inside one unit of work."""

    async def end(self, user_id: UserId, session: IssuedSession) -> None:
        """Record that `user_id`'s `session` has ended, until it expires; a repeat changes nothing."""

    async def end_all(self, user_id: UserId, before: datetime) -> None:
        """Every session of `user_id` issued before `before` has ended; the latest moment holds."""

    async def ended(self, user_id: UserId, now: datetime) -> EndedSessions | None:
        """`user_id`'s ended sessions that expire after `now`; None when there is no such user."""

    async def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete at most `limit` records of any user's ended sessions expired by `expired_by`."""


class ChangeSignal(Protocol):
    """Told after every commit that changed what members of lists can see (SPEC §8 live events).

    Units of work call it once per successful commit with what their writes touched: the lists
    whose tasks, name or members changed, and the users whose memberships came or went (a list
    they joined is not yet among the lists their streams watch). It must not block or fail.
    """

    def published(self, lists: frozenset[ListId], users: frozenset[UserId]) -> None:
        """Wake whatever watches `lists` or `users`, here and in every other process."""

    def everything(self) -> None:
        """Wake every watcher: a change too broad to name (an account erased with its lists)."""


class Touched:
    """What one unit of work's writes touched, collected by its repositories for its ChangeSignal."""

    def __init__(self) -> None:
        self.lists: set[ListId] = set()
        self.users: set[UserId] = set()
        self.all = False

    def list(self, *list_ids: ListId) -> None:
        """The lists whose tasks, name or members a write changed."""
        self.lists.update(list_ids)

    def member(self, list_id: ListId, user_id: UserId) -> None:
        """A membership that a write made, changed or ended."""
        self.lists.add(list_id)
        self.users.add(user_id)

    def everything(self) -> None:
        """A write too broad to name what it touched."""
        self.all = True

    def publish(self, signal: ChangeSignal | None) -> None:
        """Tell `signal` what was touched since the last call (after a commit), and forget it."""
        if signal is not None and self.all:
            signal.everything()
        elif signal is not None and (self.lists or self.users):
            signal.published(frozenset(self.lists), frozenset(self.users))
        self.discard()

    def discard(self) -> None:
        """Forget what was touched (the writes were rolled back)."""
        self.lists.clear()
        self.users.clear()
        self.all = False


class UnitOfWork(Protocol):
    """One atomic conversation with storage: everything commits together or not at all."""

    @property
    def tasks(self) -> TaskRepository:
        """The task repository bound to this unit of work."""

    @property
    def lists(self) -> ListRepository:
        """The list, membership and invite repository bound to this unit of work."""

    @property
    def trash(self) -> TrashRepository:
        """The trash repository bound to this unit of work."""

    @property
    def users(self) -> UserRepository:
        """The user repository bound to this unit of work."""

    @property
    def changes(self) -> ChangeRepository:
        """The change feed bound to this unit of work."""

    @property
    def idempotency(self) -> IdempotencyRepository:
        """The idempotency record repository bound to this unit of work."""

    @property
    def sessions(self) -> SessionRepository:
        """The ended-session repository bound to this unit of work."""

    @property
    def personal_tokens(self) -> PersonalTokenRepository:
        """The personal access token repository bound to this unit of work."""

    @property
    def identities(self) -> IdentityRepository:
        """The OpenID Connect identity repository bound to this unit of work."""

    async def commit(self) -> None:
        """Make every write of this unit of work durable."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a fresh unit of work; never shared between concurrent requests."""

    def __call__(self) -> UnitOfWork: ...


class TokenVerifier(Protocol):
    """Turns a bearer token into the principal it proves, or raises InvalidToken."""

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; InvalidToken for anything else."""


class Clock(Protocol):
    """The current time; replaceable in tests."""

    def now(self) -> datetime:
        """The current moment, timezone-aware in UTC."""


class Readiness(Protocol):
    """Whether storage answers and its schema is current."""

    async def is_ready(self) -> bool:
        """True when requests can be served."""


@attrs.frozen(kw_only=True)
class IssuedToken:
    """A bearer token the service signed, and when it stops being valid."""

    token: str
    expires_at: datetime


class TokenIssuer(Protocol):
    """Signs the service's own bearer tokens for its local accounts."""

    def issue(self, user: User, now: datetime) -> IssuedToken:
        """A token whose subject is `user`, valid from `now`."""


class PasswordHasher(Protocol):
    """Hashes and checks passwords without blocking the event loop."""

    async def hash(self, password: str) -> str:
        """A salted hash of `password` to store."""

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; with no hash, spends the same time and returns False."""


class Throttle(Protocol):
    """Counts attempts per bucket and key, shared by every process of the service."""

    async def hit(self, bucket: Bucket, key: str) -> None:
        """Count one attempt, atomically with its check; RateLimited, counting nothing, when over."""

    async def clear(self, bucket: Bucket, key: str) -> None:
        """Forget every attempt counted for `key` in `bucket`."""


class Sealer(Protocol):
    """Authenticated encryption of values that leave through clients and come back (cursors, undo).

    A sealed value is URL-safe text that nobody can read or forge without the service's key.
    """

    def seal(self, plain: bytes, associated: bytes) -> str:
        """`plain`, encrypted and bound to `associated` (which it authenticates but does not carry)."""

    def open(self, sealed: str, associated: bytes) -> bytes | None:
        """The plain bytes of `sealed`; None unless this key sealed them for `associated`."""
