"""People using the JSON API over HTTP: each with a token of their own, in the style in force."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import httpx

from tests.e2e.wire import Wire
from tests.settling import SETTLING
from tests.tokens import hs256

MISSING_ID = 987_654_321_012
"""An id that no list and no task of a test run reaches."""


@attrs.frozen
class Person:
    """One user of the API: their id, their token, and the client and style they call it with."""

    id: str
    client: httpx.AsyncClient
    wire: Wire

    @property
    def email(self) -> str:
        """The e-mail their token carries."""
        return f"{self.id}@example.com"

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header of their token."""
        return {"Authorization": f"Bearer {hs256(self.id, email=self.email)}"}

    def url(self, path: str) -> str:
        """`path` under their own `/api/{user_id}`."""
        return f"/api/{self.id}{path}"

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A request under their own `/api/{user_id}` with their token."""
        return await self.client.request(
            method, self.url(path), headers={**self.auth, **(headers or {})}, **kwargs
        )

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The resource of a request that must succeed with `status`."""
        response = await self.call(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return self.wire.data(response)

    async def refused(self, method: str, path: str, status: int, **kwargs: Any) -> str:
        """The error code of a request that must be refused with `status`."""
        response = await self.call(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return self.wire.error(response)

    async def new_list(self, name: str = "Groceries") -> dict[str, Any]:
        """A new list of theirs."""
        created: dict[str, Any] = await self.ok("POST", "/lists", 201, json={"name": name})
        return created

    async def add(self, title: str = "t", **fields: Any) -> dict[str, Any]:
        """A new task of theirs (in `list_id`, under `parent_id` when given)."""
        task: dict[str, Any] = await self.ok("POST", "/tasks", 201, json={"title": title, **fields})
        return task

    async def invite(self, list_id: int, role: str = "editor", **more: Any) -> str:
        """The code of a new invite to their list."""
        issued = await self.ok(
            "POST", f"/lists/{list_id}/invites", 201, json={"role": role, **more}
        )
        code: str = issued["code"]
        return code

    async def share(self, list_id: int, other: Person, role: str) -> dict[str, Any]:
        """They invite `other` to their list in `role`, `other` accepts: the list as `other` sees it."""
        code = await self.invite(list_id, role)
        joined: dict[str, Any] = await other.ok("POST", f"/invites/{code}/accept")
        return joined

    async def titles(self, **params: Any) -> list[str]:
        """The titles of one page of their task list with `params`."""
        page = await self.ok("GET", "/tasks", params={"limit": 100, **params})
        return [t["title"] for t in page]

    async def changes(
        self, since: str | None = None, limit: int = 500
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """One page of their change feed: entries, cursor, whether more wait."""
        params: dict[str, Any] = {"limit": limit} | ({} if since is None else {"since": since})
        response = await self.call("GET", "/changes", params=params)
        assert response.status_code == 200, response.text
        return self.wire.feed(response)

    async def follow(self, replica: Replica, since: str | None = None) -> str:
        """Their change feed from `since` to its end applied to `replica`; the cursor there."""
        settled = 0
        while settled < SETTLING:
            entries, since, more = await self.changes(since, limit=7)
            replica.apply(entries)
            settled = 0 if more or entries else settled + 1
        assert since is not None
        return since


@attrs.define
class Replica:
    """What a client of the change feed holds: the tasks and lists it was told of."""

    tasks: dict[int, dict[str, Any]] = attrs.Factory(dict)
    lists: dict[int, dict[str, Any]] = attrs.Factory(dict)

    def apply(self, entries: list[dict[str, Any]]) -> None:
        """The entries, in order; a list's delete takes its tasks (SPEC §8)."""
        kinds = {(e["kind"], e["id"]) for e in entries}
        assert len(kinds) == len(entries), "an entity at most once per page"
        for entry in entries:
            held = self.tasks if entry["kind"] == "task" else self.lists
            if entry["op"] == "upsert":
                held[entry["id"]] = entry["data"]
                continue
            assert entry["data"] is None
            held.pop(entry["id"], None)
            if entry["kind"] == "list":
                self.tasks = {i: t for i, t in self.tasks.items() if t["list_id"] != entry["id"]}


People = Callable[[], Person]
"""Makes a new person each call."""


def person(client: httpx.AsyncClient, wire: Wire) -> Person:
    """A new person, who has never called the API."""
    return Person(id=f"p-{uuid.uuid4().hex[:10]}", client=client, wire=wire)
