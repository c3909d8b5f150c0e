"""Schemathesis against the live app, on PostgreSQL and in memory: every operation, every check,
a fixed seed.

The app runs in process (schemathesis calls it over ASGI on an event loop of its own), with a
valid bearer token for the path's user, who has lists, tasks, members and invites to work on
(`Seeds`). The run must find no server error, no response that breaks the document, and nothing
any other check flags.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.generation.meta import TestPhase
from schemathesis.python import asgi as schemathesis_asgi
from starlette.applications import Starlette

from adapters.http.parsing import MAX_BODY
from taskservice.bootstrap import build_app
from tests.e2e.conftest import memory_adapters, settings_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

SEED = 20301
EXAMPLES_PER_OPERATION = 30
USER = f"schemathesis-{uuid.uuid4().hex[:8]}"
OTHER = f"schemathesis-other-{uuid.uuid4().hex[:8]}"
"""Someone who shares a list with USER, and whose invites USER accepts."""
USER_ID_MAX = 255
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,255}", re.ASCII)
_INTEGERS = frozenset({"list", "parent", "limit"})
"""The list's query parameters whose values are integers."""
_WHOLE = re.compile(r"-?[0-9]{1,15}\.0+", re.ASCII)
# Positive data may still meet a state the schema cannot predict: 404 for a task id that does
# not exist, 412 for an If-Match naming another version, 409 for a key still in flight.
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
_SERVER_ERROR = "not_a_server_error"
_SCHEMA_CHECKS = frozenset(
    {"response_schema_conformance", "response_headers_conformance", "status_code_conformance"}
)


@attrs.frozen(kw_only=True)
class Finding:
    """One failed check: which, where, what, and the request that shows it."""

    check: str
    operation: str
    title: str
    message: str
    request: str

    def __str__(self) -> str:
        return f"{self.check} on {self.operation}: {self.title}\n{self.message}\n{self.request}"


@attrs.frozen(kw_only=True)
class Run:
    """What a schemathesis run did and found."""

    cases: int
    checks: collections.Counter[str]
    operations: frozenset[str]
    statuses: dict[str, collections.Counter[int]]
    """The statuses each operation answered, in every phase (the stateful one's too)."""
    findings: list[Finding]
    seconds: float


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "mode": "all",
                "database": "none",
                "allow-x00": True,
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED}},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True},
            },
        }
    )


@attrs.frozen(kw_only=True)
class Seeds:
    """What USER has before the run, so that generated requests can name things that exist.

    Pools that a request uses up (an invite withdrawn or accepted) are drawn from until empty;
    the others are taken in turn.
    """

    default_list: int
    lists: Iterator[int]
    """USER's own lists and the one OTHER shares with USER as an editor, in turn."""
    own_lists: Iterator[int]
    """USER's own lists but the default one, in turn."""
    disposable: Iterator[int]
    """Lists of USER's with a task that no other case names, to delete."""
    members: Iterator[tuple[int, str]]
    """A list of USER's and a member of it who is not USER, in turn."""
    removable: Iterator[tuple[int, str]]
    """A list of USER's and a member of it whom no other case names, to remove."""
    tasks: Iterator[int]
    """Tasks and subtasks in USER's lists, in turn."""
    withdrawable: Iterator[tuple[int, str]]
    """Open invites to USER's lists: the list and the code."""
    joinable: Iterator[str]
    """Codes of OTHER's invites, each to a list USER does not belong to yet."""
    look_up: Callable[[str], dict[str, Any] | None]
    """What USER reads at a path under `/api/{USER}` now; None for a 404."""
    trashed: Callable[[], int]
    """A task of USER's made and deleted now: an entry of the trash that no other case names
    (emptying the trash may come first)."""


def _seed(app: Starlette) -> Seeds:
    """USER's lists with tasks and subtasks, members, invites, and a list OTHER shares."""
    # Starlette types its ASGI callable more loosely than schemathesis does.
    client = schemathesis_asgi.get_client(app)  # type: ignore[arg-type]

    def call(who: str, method: str, path: str, body: object = None, *, found: bool = True) -> Any:
        headers = {"Authorization": f"Bearer {hs256(who, exp=int(time.time()) + 3600)}"}
        response = client.request(method, f"/api/{who}{path}", json=body, headers=headers)
        if response.status_code == 404 and not found:
            return None
        assert response.status_code in (200, 201), response.text
        data = response.json()
        return data if isinstance(data, list) or "error" not in data else data["data"]

    with client:
        default = call(USER, "GET", "/lists")[0]["id"]
        own = [call(USER, "POST", "/lists", {"name": f"Seeded {n}"})["id"] for n in range(3)]
        disposable = [call(USER, "POST", "/lists", {"name": f"Bin {n}"})["id"] for n in range(3)]
        for list_id in disposable:
            call(USER, "POST", "/tasks", {"title": "goes", "list_id": list_id})
        tasks: list[int] = []
        for list_id in (default, *own):
            for title in ("one", "two"):
                task = call(USER, "POST", "/tasks", {"title": title, "list_id": list_id})
                sub = {"title": "sub", "list_id": list_id, "parent_id": task["id"]}
                tasks += [task["id"], call(USER, "POST", "/tasks", sub)["id"]]
        members: list[tuple[int, str]] = []
        for list_id in own:
            for n in range(4):
                member = f"{OTHER}-{n}"
                code = call(USER, "POST", f"/lists/{list_id}/invites", {"role": "viewer"})["code"]
                call(member, "POST", f"/invites/{code}/accept")
                members.append((list_id, member))
        withdrawable = [
            (list_id, call(USER, "POST", f"/lists/{list_id}/invites", {"role": "editor"})["code"])
            for list_id in own
            for _ in range(5)
        ]
        shared = call(OTHER, "POST", "/lists", {"name": "Shared"})["id"]
        code = call(OTHER, "POST", f"/lists/{shared}/invites", {"role": "editor"})["code"]
        call(USER, "POST", f"/invites/{code}/accept")
        call(USER, "POST", "/tasks", {"title": "theirs", "list_id": shared})
        joinable = []
        for n in range(5):
            theirs = call(OTHER, "POST", "/lists", {"name": f"To join {n}"})["id"]
            joinable.append(call(OTHER, "POST", f"/lists/{theirs}/invites", {"role": "viewer"}))
    return Seeds(
        default_list=default,
        lists=itertools.cycle([default, *own, shared]),
        own_lists=itertools.cycle(own),
        disposable=iter(disposable),
        members=itertools.cycle(members[::2]),
        removable=iter(members[1::2]),
        tasks=itertools.cycle(tasks),
        withdrawable=iter(withdrawable),
        joinable=iter(j["code"] for j in joinable),
        look_up=lambda path: call(USER, "GET", path, found=False),
        trashed=lambda: _trashed(call),
    )


def _trashed(call: Callable[..., Any]) -> int:
    task_id: int = call(USER, "POST", "/tasks", {"title": "binned"})["id"]
    call(USER, "DELETE", f"/tasks/{task_id}")
    return task_id


def _as_a_client_would(seeds: Seeds) -> Callable[[Any, Any, Any], None]:
    """A hook that sends what a real client sends where the schema cannot say it.

    The path's user is the token's user (a valid user id of someone else is a 403 that would
    hide every other rule). In positive cases an Idempotency-Key is made unique (a client never
    reuses one for another body), a made-up cursor is left out (cursors are opaque: only
    `meta.next_cursor`, the `Link` or an event's id is one), a whole number is written without a fraction (a
    client writes `parent=5`, not `parent=5.0`), `sort=position` comes with a `list` (as the
    document says it must), and of two names for one thing that the plain style reads (`q` and
    `search`, `status` and `completed`, a `-` and `order`) only the first is sent. Outside the
    stateful phase (whose ids come from the answers it follows), a positive case names seeded
    lists, tasks, members and invites instead of made-up ids, which would only ever be 404s.
    Negative cases keep whatever broken value they carry.
    """

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        path = case.path_parameters or {}
        if "user_id" in path and 1 <= len(str(path["user_id"])) <= USER_ID_MAX:
            path["user_id"] = USER
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        headers = case.headers or {}
        key = headers.get("Idempotency-Key")
        if key is not None and _KEY.fullmatch(str(key)):
            headers["Idempotency-Key"] = f"{str(key)[:200]}-{uuid.uuid4().hex}"
        query = case.query or {}
        query.pop("cursor", None)
        # The feed's cursors too: `since`, and an events stream's Last-Event-ID.
        query.pop("since", None)
        headers.pop("Last-Event-ID", None)
        for name in _INTEGERS & query.keys():
            # An id schemathesis saw in an answer may come back as 5.0, which a client writes 5.
            value = query[name]
            if _WHOLE.fullmatch(str(value)):
                query[name] = int(float(value))
        for first, second in (("q", "search"), ("status", "completed")):
            if first in query:
                query.pop(second, None)
        if str(query.get("sort", "")).startswith("-"):
            query.pop("order", None)
        if str(query.get("sort", "")).endswith("position") and "list" not in query:
            query["list"] = next(seeds.lists)
        if case.meta.phase.name is not TestPhase.STATEFUL:
            _seeded(seeds, case.method, case.operation.path, path, query)
        if isinstance(case.body, dict):
            _placed(seeds, case.operation.path, case.body)

    return before_call


def _placed(seeds: Seeds, template: str, body: dict[str, Any]) -> None:
    # Ids in a body may be real ones (schemathesis reuses ids it has seen in answers), and a
    # real parent or sibling must fit SPEC §7's rules, which no schema states: a parent is a
    # top-level task of the new task's list, and a move's parent and sibling fit the task moved.
    # A move goes to a list USER edits, so that moves succeed in every run.
    _written_whole(body)
    if template == "/api/{user_id}/tasks" and type(body.get("parent_id")) is int:
        found = seeds.look_up(f"/tasks/{body['parent_id']}")
        if found is not None:
            body["parent_id"] = found["parent_id"] or found["id"]
            body["list_id"] = found["list_id"]
    elif template == "/api/{user_id}/tasks/batch":
        _batched(seeds, body)
    elif template == "/api/{user_id}/tasks/{id}/move":
        for name in ("parent_id", "after"):
            # 10.0 too (made 10 above): JSON Schema's integer, which a client writes 10.
            if type(body.get(name)) is int:
                body[name] = None
        if type(body.get("list_id")) is int:
            # A list USER edits: one seen in an answer may be one USER only views (403).
            body["list_id"] = next(seeds.own_lists)


def _written_whole(body: dict[str, Any]) -> None:
    # An id schemathesis saw in an answer may come back as 5.0, which a client writes 5 (and
    # the service reads as 5: the ids below are then looked up as the service would find them).
    for name in ("id", "list_id", "parent_id", "after"):
        value = body.get(name)
        if type(value) is float and value.is_integer():
            body[name] = int(value)


def _batched(seeds: Seeds, body: dict[str, Any]) -> None:
    # A batch's operations name tasks as the single routes' paths do: seeded tasks instead of
    # made-up ids (but a delete's, which would take seeded tasks from every later case), a
    # create's list and parent fitted as a create's are, no made-up version (a 412 every time,
    # which would hide everything else); and only as many operations as fit in 64 KiB, a limit
    # of the body that no schema states (as ASCII JSON with spaces: at least what is sent).
    operations = body.get("operations")
    if not isinstance(operations, list):
        return
    for operation in operations:
        if not isinstance(operation, dict):
            continue
        _written_whole(operation)
        operation.pop("if_match", None)
        if operation.get("op") != "delete" and type(operation.get("id")) is int:
            operation["id"] = next(seeds.tasks)
        if operation.get("op") == "create" and isinstance(operation.get("data"), dict):
            _placed(seeds, "/api/{user_id}/tasks", operation["data"])
    while len(operations) > 1 and len(json.dumps(body).encode()) > MAX_BODY:
        operations.pop()


def _seeded(
    seeds: Seeds, method: str, template: str, path: dict[str, Any], query: dict[str, Any]
) -> None:
    # Made-up ids replaced by seeded ones, where the schema cannot know which exist.
    if "list" in query:
        query["list"] = next(seeds.lists)
    if template == "/api/{user_id}/tasks/{id}/move":
        path["id"] = next(seeds.tasks)
    elif template in ("/api/{user_id}/trash/{id}", "/api/{user_id}/trash/{id}/restore"):
        path["id"] = seeds.trashed()
    elif template == "/api/{user_id}/invites/{code}/accept":
        path["code"] = next(seeds.joinable, path["code"])
    elif template == "/api/{user_id}/lists/{id}/invites/{code}":
        path["id"], path["code"] = next(seeds.withdrawable, (path["id"], path["code"]))
    elif template == "/api/{user_id}/lists/{id}/members/{member_id}":
        if method == "DELETE":
            # Once the removable members are gone, the owner, who cannot leave (409).
            path["id"], path["member_id"] = next(seeds.removable, (next(seeds.own_lists), USER))
        else:
            path["id"], path["member_id"] = next(seeds.members)
    elif template == "/api/{user_id}/lists/{id}" and method == "DELETE":
        # Once the disposable lists are gone, the default list, which is never deleted (409).
        path["id"] = next(seeds.disposable, seeds.default_list)
    elif template == "/api/{user_id}/lists/{id}/invites":
        path["id"] = next(seeds.own_lists)
    elif template.startswith("/api/{user_id}/lists/{id}"):
        path["id"] = next(seeds.lists)


@contextmanager
def _client_hook(seeds: Seeds) -> Iterator[None]:
    hook = schemathesis.hook("before_call")(_as_a_client_would(seeds))
    try:
        yield
    finally:
        schemathesis.hooks.unregister(hook)


def _findings(event: events.ScenarioFinished) -> Iterator[Finding]:
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                yield Finding(
                    check=check.name,
                    operation=event.recorder.label,
                    title=failure.title,
                    message=failure.message or "",
                    request=check.failure_info.code_sample,
                )


def _run(schema: Any) -> Run:
    started = time.perf_counter()
    cases = 0
    checks: collections.Counter[str] = collections.Counter()
    operations: set[str] = set()
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    findings: list[Finding] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            operations.add(event.recorder.label)
            checks.update(c.name for cs in event.recorder.checks.values() for c in cs)
            for case_id, interaction in event.recorder.interactions.items():
                if interaction.response is not None:
                    label = event.recorder.cases[case_id].value.operation.label
                    statuses[label][interaction.response.status_code] += 1
            findings += _findings(event)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            pytest.fail(f"schemathesis could not test: {event}")
    return Run(
        cases=cases,
        checks=checks,
        operations=frozenset(operations),
        statuses=dict(statuses),
        findings=findings,
        seconds=time.perf_counter() - started,
    )


@pytest.fixture(scope="module")
def run(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory, api_style: str
) -> Iterator[Run]:
    """One schemathesis run over the whole API on one storage in one style, shared by the
    assertions below."""
    data: Path = tmp_path_factory.mktemp("schemathesis")
    # An events stream ends as soon as it has caught up: each call answers in full.
    quick = {"api_style": api_style, "events_lifetime": 0.001}
    if database_url is None:
        settings = settings_for(f"sqlite:///{data / 'unused.db'}", data, **quick)
        app = build_app(settings, memory_adapters(settings))
    else:
        app = build_app(settings_for(database_url, data, **quick))
    # Issued an hour ago: too old to erase the account (DELETE /api/auth/me answers 403), which
    # would take the run's own tasks with it.
    now = int(time.time())
    token = hs256(USER, iat=now - 3600, exp=now + 3600)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(token))
    try:
        seeds = _seed(app)
        with _client_hook(seeds):
            result = _run(schema)
        print(
            f"\nschemathesis ({api_style}, {'memory' if database_url is None else 'postgres'}): "
            f"{result.cases} cases, {sum(result.checks.values())} checks, "
            f"{len(result.findings)} findings in {result.seconds:.1f} s"
        )
        yield result
    finally:
        # Stops the app's lifespan (and with it the pool) before the database is dropped.
        schemathesis_asgi.shutdown_lifespans()


def _report(findings: list[Finding]) -> str:
    return "\n\n".join(str(f) for f in findings)


def test_no_server_errors(run: Run) -> None:
    errors = [f for f in run.findings if f.check == _SERVER_ERROR]
    assert not errors, _report(errors)


def test_no_responses_that_break_the_document(run: Run) -> None:
    violations = [f for f in run.findings if f.check in _SCHEMA_CHECKS]
    assert not violations, _report(violations)


def test_no_other_check_fails(run: Run) -> None:
    assert not run.findings, _report(run.findings)


def test_every_operation_and_check_ran(run: Run) -> None:
    assert len(run.operations) >= 25, sorted(run.operations)
    for check in (_SERVER_ERROR, *_SCHEMA_CHECKS, "negative_data_rejection", "ignored_auth"):
        assert run.checks[check] > 100, (check, run.checks)
    assert run.cases > 1000


_ONLY_REFUSED: Final = {
    # Each needs a secret schemathesis never knows: the password of an account it made.
    "POST /api/auth/sign-in",
    "POST /api/auth/password",
    # A fresh sign-in: the run's token is an hour old, so that it cannot erase its own data.
    "DELETE /api/auth/me",
    # A valid new e-mail with a valid password comes only by chance (seen: a run without one).
    "POST /api/auth/sign-up",
}
"""Operations a run may see only refused; their successes are tested in test_identity_api and
test_accounts_api."""


def test_every_operation_succeeded_at_times(run: Run) -> None:
    # The seeds and the links give every operation something real to act on, so that a run
    # tests what the routes do, not only how they refuse.
    failed = {
        label: dict(counts)
        for label, counts in run.statuses.items()
        if not any(200 <= status < 300 for status in counts) and label not in _ONLY_REFUSED
    }
    for label in sorted(run.statuses):
        print(label, dict(sorted(run.statuses[label].items())))
    assert not failed, failed
    assert len(run.statuses) >= 25, sorted(run.statuses)
