"""The benchmark's scenarios and what each needs: paths, tokens, cursors and task slots."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import attrs
import httpx

from bench import seed, tokens
from bench.database import BenchDatabase, Fixture

DEEP_AFTER: Final = 9000
DEEP_IN_ONE_LIST: Final = 400
"""How deep the deep page of one of bench-lists' lists (500 tasks) starts."""
PAGE_FOR_PAGING: Final = 100
FEED_PAGE: Final = 500
SLOTS_PER_SCENARIO: Final = 128
SERVICE: Final = "service"
SERVICE_INFO: Final = "service_info"
SERVICE_WORKERS: Final = "service_workers"
"""The service with WEB_CONCURRENCY=WORKERS, measured against the one-worker service."""
WORKERS: Final = 2
SERVICE_POOLER: Final = "service_pooler"
"""The service through PgBouncer in transaction mode, measured against the service direct."""
REFERENCE: Final = "reference"


@attrs.frozen(kw_only=True)
class Scenario:
    """One kind of request, driven against the service and the reference alike."""

    key: str
    title: str
    script: str
    expected: int = 200
    service: str = SERVICE
    """Which service process answers: the quiet one, the one logging every request, or workers."""
    baseline: str = REFERENCE
    """What it is measured against, alternating: the reference app, or the one-worker service."""
    page_of: str | None = None
    """For a list scenario: the first page (a scenario key, its own for a first page) whose
    req/s this one must stay within DEEP_TOLERANCE of (report.py)."""

    @property
    def of_workers(self) -> bool:
        """Whether this compares WORKERS worker processes with one."""
        return self.service == SERVICE_WORKERS

    @property
    def of_pooler(self) -> bool:
        """Whether this compares the service through PgBouncer with the service direct."""
        return self.service == SERVICE_POOLER

    @property
    def sides(self) -> tuple[str, str]:
        """How the two sides of an A B pair are called in the output."""
        if self.of_workers:
            return f"{WORKERS} workers", "1 worker"
        if self.of_pooler:
            return "PgBouncer", "direct"
        return "service", "reference"


SCENARIOS: Final = (
    Scenario(
        key="list_first",
        title="list first page (50 of 10k)",
        script="static",
        page_of="list_first",
    ),
    Scenario(
        key="list_deep",
        title="list after 9,000 (cursor)",
        script="static",
        page_of="list_first",
    ),
    Scenario(
        key="list_100k",
        title="list first page, 100k user",
        script="static",
        page_of="list_first",
    ),
    Scenario(key="get_one", title="get one task", script="static"),
    Scenario(key="create", title="create (POST)", script="create", expected=201),
    Scenario(key="update", title="update (PUT + If-Match)", script="update"),
    Scenario(key="complete", title="complete/reopen (PATCH)", script="complete"),
    Scenario(key="batch", title="batch of 10 creates (POST …/batch)", script="batch"),
    Scenario(key="bad_token", title="bad token (401)", script="static", expected=401),
    Scenario(
        key="list_first_info",
        title="list first page, LOG_LEVEL=INFO",
        script="static",
        service=SERVICE_INFO,
    ),
    Scenario(
        key="list_first_workers",
        title=f"list first page, {WORKERS} workers",
        script="static",
        service=SERVICE_WORKERS,
        baseline=SERVICE,
    ),
    Scenario(
        key="create_workers",
        title=f"create (POST), {WORKERS} workers",
        script="create",
        expected=201,
        service=SERVICE_WORKERS,
        baseline=SERVICE,
    ),
    # Issue 15: a user with 20 lists and 10,000 tasks, and a shared list read by its editor.
    Scenario(
        key="lists_all_first",
        title="20 lists: all, first page",
        script="static",
        page_of="lists_all_first",
    ),
    Scenario(
        key="lists_all_deep",
        title="20 lists: all, after 9,000",
        script="static",
        page_of="lists_all_first",
    ),
    Scenario(
        key="lists_one_first",
        title="20 lists: one, first page",
        script="static",
        page_of="lists_one_first",
    ),
    Scenario(
        key="lists_one_deep",
        title="20 lists: one, after 400",
        script="static",
        page_of="lists_one_first",
    ),
    Scenario(
        key="shared_editor",
        title="shared list read by its editor",
        script="static",
        page_of="shared_editor",
    ),
    # Issue 16: a client polling its change feed at its end (nothing changed since).
    Scenario(
        key="feed_next",
        title="feed: the next page (20 lists)",
        script="static",
        page_of="lists_all_first",
    ),
    # Issue 16: a polling client whose copy of the first page is current.
    Scenario(
        key="list_not_modified",
        title="list first page, 304 (If-None-Match)",
        script="conditional",
        expected=304,
    ),
    Scenario(
        key="list_first_pooler",
        title="list first page, PgBouncer",
        script="static",
        service=SERVICE_POOLER,
        baseline=SERVICE,
    ),
    Scenario(
        key="create_pooler",
        title="create (POST), PgBouncer",
        script="create",
        expected=201,
        service=SERVICE_POOLER,
        baseline=SERVICE,
    ),
)
DEEP_CURSORS: Final = {
    "list_deep": (seed.USER_10K, None, DEEP_AFTER),
    "lists_all_deep": (seed.USER_LISTS, None, DEEP_AFTER),
    "lists_one_deep": (seed.USER_LISTS, "one", DEEP_IN_ONE_LIST),
}
"""Each deep scenario's user, list ("one": USER_LISTS' last list) and depth."""
BY_KEY: Final = {s.key: s for s in SCENARIOS}


class ParityError(RuntimeError):
    """A server's answer contradicts the seeded data (e.g. counts the seeder did not keep)."""


class Workload:
    """Tokens, cursors and data files for the scenarios, over one seeded database."""

    def __init__(self, database: BenchDatabase, fixture: Fixture, secret: str, workdir: Path):
        self.database = database
        self.fixture = fixture
        self.workdir = workdir
        users = [
            seed.USER_10K,
            seed.USER_100K,
            seed.USER_LISTS,
            seed.USER_EDITOR,
            *(u for u, _ in fixture.writer_tasks),
        ]
        self.tokens = {user: tokens.mint(secret, user) for user in users}
        self.bad_token = tokens.forged(seed.USER_10K)
        self.cursors: dict[tuple[str, str], str] = {}
        """The deep cursor of each (deep scenario, app): each app pages with its own."""
        self.tags: dict[str, str] = {}
        """The ETag of the first page of USER_10K, as each app tags it."""
        self.one_list = fixture.lists[seed.USER_LISTS][-1]
        writers = fixture.writer_tasks
        self._slot_tasks = {
            "update": [t for _, t in writers[:SLOTS_PER_SCENARIO]],
            "complete": [t for _, t in writers[SLOTS_PER_SCENARIO : 2 * SLOTS_PER_SCENARIO]],
        }

    def static_request(self, key: str, app: str) -> tuple[str, str, str]:
        """(method, path, token) of a scenario that repeats one request."""
        many, huge, lists = seed.USER_10K, seed.USER_100K, seed.USER_LISTS
        token, editor = self.tokens[many], seed.USER_EDITOR
        requests = {
            "list_first": ("GET", f"/api/{many}/tasks", token),
            "list_first_info": ("GET", f"/api/{many}/tasks", token),
            "list_first_workers": ("GET", f"/api/{many}/tasks", token),
            "list_first_pooler": ("GET", f"/api/{many}/tasks", token),
            "list_100k": ("GET", f"/api/{huge}/tasks", self.tokens[huge]),
            "get_one": ("GET", f"/api/{many}/tasks/{self.fixture.sample_task}", token),
            "bad_token": ("GET", f"/api/{many}/tasks", self.bad_token),
            "lists_all_first": ("GET", f"/api/{lists}/tasks", self.tokens[lists]),
            "lists_one_first": (
                "GET",
                f"/api/{lists}/tasks?list={self.one_list}",
                self.tokens[lists],
            ),
            "shared_editor": (
                "GET",
                f"/api/{editor}/tasks?list={self.fixture.shared_list}",
                self.tokens[editor],
            ),
        }
        if key == "feed_next":
            path = f"/api/{lists}/changes?since={self.cursors.get((key, app), '')}"
            return "GET", path, self.tokens[lists]
        if key in DEEP_CURSORS:
            method, path, user_token = self._deep_request(key)
            return (
                method,
                f"{path}{'&' if '?' in path else '?'}cursor={self.cursors.get((key, app), '')}",
                user_token,
            )
        return requests[key]

    def _deep_request(self, key: str) -> tuple[str, str, str]:
        user, list_scope, _ = DEEP_CURSORS[key]
        query = "" if list_scope is None else f"?list={self.one_list}"
        return "GET", f"/api/{user}/tasks{query}", self.tokens[user]

    async def wrk_args(self, scenario: Scenario, app: str, threads: int) -> list[str]:
        """The arguments after `--` for the scenario's Lua script, fresh for this run."""
        if scenario.script == "static":
            return list(self.static_request(scenario.key, app))
        if scenario.script == "conditional":
            _, target, token = self.static_request("list_first", app)
            return [target, token, self.tags[app]]
        path = self.workdir / f"{scenario.key}.txt"
        if scenario.script in ("create", "batch"):
            users = [u for u, _ in self.fixture.writer_tasks]
            _write_lines(path, (f"{u} {self.tokens[u]}" for u in users))
        else:
            await self._write_slots(self._slot_tasks[scenario.key], path)
        return [str(path), str(threads)]

    async def _write_slots(self, task_ids: list[int], path: Path) -> None:
        """Each task's current version, read just before the run, so that If-Match holds."""
        states = await self.database.settled_states(task_ids)
        _write_lines(
            path,
            (
                f"{s.user_id} {self.tokens[s.user_id]} {s.task_id} {s.version} {int(s.completed)}"
                for s in states
            ),
        )

    async def fetch_deep_cursors(self, app: str, base_url: str, keys: Iterable[str]) -> None:
        """For each deep scenario among `keys`, page through its list as `app` until its depth
        is behind the cursor."""
        if "feed_next" in keys:
            path, token = f"/api/{seed.USER_LISTS}/changes", self.tokens[seed.USER_LISTS]
            self.cursors[("feed_next", app)] = await _feed_end(app, base_url, path, token)
        for key in (k for k in keys if k in DEEP_CURSORS):
            depth = DEEP_CURSORS[key][2]
            _, path, token = self._deep_request(key)
            self.cursors[(key, app)] = await _cursor_after(app, base_url, path, token, depth)

    async def first_answers(self, app: str, base_url: str) -> dict[str, Any]:
        """The first list page and one task from `app`, checked against the seeded counts; the
        page's ETag kept for the conditional scenario."""
        headers = {"Authorization": f"Bearer {self.tokens[seed.USER_10K]}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
            answer = await client.get(f"/api/{seed.USER_10K}/tasks")
            self.tags[app] = answer.headers.get("etag", "")
            page = _ok(answer, app)
            one = _ok(
                await client.get(f"/api/{seed.USER_10K}/tasks/{self.fixture.sample_task}"), app
            )
        pending, completed = self.fixture.counts[seed.USER_10K]
        expected = {"pending": pending, "completed": completed}
        if page["meta"]["counts"] != expected:
            raise ParityError(
                f"{app} reports counts {page['meta']['counts']}, the database holds {expected}: "
                "the schema probably keeps per-user state (counters?) that bench/database.py "
                "does not seed; teach the seeder to fill it"
            )
        return {"list": page["data"], "get": one["data"]}


async def _cursor_after(app: str, base_url: str, path: str, token: str, depth: int) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    target, _, query = path.partition("?")
    params: dict[str, Any] = dict(httpx.QueryParams(query)) | {"limit": PAGE_FOR_PAGING}
    seen = 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        while seen < depth:
            body = _ok(await client.get(target, params=params), app)
            seen += len(body["data"])
            params["cursor"] = body["meta"]["next_cursor"]
            if params["cursor"] is None:
                raise ParityError(f"{app}: {path} ended after {seen} tasks")
    return str(params["cursor"])


async def _feed_end(app: str, base_url: str, path: str, token: str) -> str:
    # The cursor at the end of a full sync of the feed, pages of FEED_PAGE.
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, Any] = {"limit": FEED_PAGE}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        while True:
            body = _ok(await client.get(path, params=params), app)
            params["since"] = body["meta"]["cursor"]
            if not body["meta"]["has_more"]:
                return str(params["since"])


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def _ok(response: httpx.Response, app: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise ParityError(
            f"{app}: {response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def differences(service: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Where the reference's answers differ from the service's (it must do the same work)."""
    found: list[str] = []
    for kind in ("list", "get"):
        a, b = service[kind], reference[kind]
        first_a = a[0] if isinstance(a, list) and a else a
        first_b = b[0] if isinstance(b, list) and b else b
        if a == b:
            continue
        keys = sorted(set(first_a) ^ set(first_b)) or sorted(
            k for k in first_a if first_a.get(k) != first_b.get(k)
        )
        found.append(f"{kind}: fields differ: {', '.join(keys) or 'order or length'}")
    return found
