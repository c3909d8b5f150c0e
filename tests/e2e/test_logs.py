"""The logs of SPEC §6: one JSON line per request with its keys, and never a credential."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
import structlog

from adapters.memory import AlwaysReady
from taskservice.bootstrap import Adapters, build_app, build_identity, build_verifier
from taskservice.logs import configure_logging
from tests.e2e.conftest import settings_for
from tests.e2e.people import Person
from tests.e2e.wire import Wire
from tests.tokens import hs256

REQUEST_KEYS = {
    "time",
    "level",
    "method",
    "route",
    "status",
    "duration_ms",
    "request_id",
    "user_id",
}


@pytest.fixture(params=["INFO"])
def json_logs(request: pytest.FixtureRequest) -> Iterator[Callable[[], list[str]]]:
    """Logging as the CLI configures it, onto a stdout of the test's own; restored after."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        configure_logging(request.param)
    try:
        yield lambda: stdout.getvalue().splitlines()
    finally:
        root.handlers = handlers
        root.setLevel(level)
        structlog.configure(**config)


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    """Every line as a JSON object; fails on the first line that is not one."""
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    return records


@pytest.mark.parametrize("json_logs", ["WARNING"], indirect=True)
async def test_at_warning_a_request_writes_no_line(
    client: httpx.AsyncClient, json_logs: Callable[[], list[str]]
) -> None:
    assert (await client.get("/no/such/route")).status_code == 404
    assert (await client.get("/healthz")).status_code == 200
    assert [r for r in parsed(json_logs()) if r["event"] == "request"] == []


async def test_every_request_is_one_json_line_without_credentials(
    client: httpx.AsyncClient, json_logs: Callable[[], list[str]], wire: Wire
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    signed_up = await client.post(
        "/api/auth/sign-up", json={"email": email, "password": password, "name": "Logged"}
    )
    assert signed_up.status_code == 201
    session = wire.data(signed_up)
    token, user_id = session["token"], session["user"]["id"]
    bearer = {"Authorization": f"Bearer {token}"}
    other_token = hs256(f"user-{uuid.uuid4().hex[:8]}")
    cookie_value = f"cookie-{uuid.uuid4().hex}"

    sent = [
        await client.post("/api/auth/sign-in", json={"email": email, "password": password}),
        await client.post("/api/auth/sign-in", json={"email": email, "password": wrong_password}),
        await client.get("/api/auth/me", headers=bearer),
        await client.post(f"/api/{user_id}/tasks", json={"title": "logged"}, headers=bearer),
        await client.get(
            f"/api/{user_id}/tasks",
            headers={**bearer, "Cookie": f"__Host-session={cookie_value}; theme={cookie_value}"},
        ),
        await client.get(
            f"/api/{user_id}/tasks", headers={"Authorization": f"Bearer {other_token}"}
        ),
        await client.get("/tasks", headers={"Cookie": f"__Host-session={token}"}),
        await client.get("/no/such/route", headers={"Authorization": "Bearer not-a-jwt-at-all"}),
    ]
    assert [r.status_code for r in sent][:5] == [200, 401, 200, 201, 200]

    lines = json_logs()
    records = parsed(lines)
    requests = [r for r in records if r["event"] == "request"]
    assert len(requests) == len(sent) + 1
    for record in requests:
        assert record.keys() >= REQUEST_KEYS
        assert isinstance(record["duration_ms"], float | int)
    by_request_id = {r["request_id"]: r for r in requests}
    tasks_line = by_request_id[sent[3].headers["x-request-id"]]
    assert tasks_line["method"] == "POST"
    assert tasks_line["route"] == "/api/{user_id}/tasks"
    assert tasks_line["status"] == 201
    assert tasks_line["user_id"] == user_id
    for forbidden in (password, wrong_password, token, other_token, cookie_value, "not-a-jwt"):
        assert not [line for line in lines if forbidden in line]


async def test_the_start_up_line_summarises_settings_without_secrets(
    tmp_path: Path, json_logs: Callable[[], list[str]]
) -> None:
    settings = settings_for(
        "postgresql://alice:db-pa55word@127.0.0.1:1/tasks?sslmode=disable",
        tmp_path,
        rate_limit_storage="redis://:redis-pa55word@127.0.0.1:1/0",
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        pass

    lines = json_logs()
    starting = next(r for r in parsed(lines) if r["event"] == "service starting")
    assert starting["database"] == {
        "backend": "postgresql",
        "host": "127.0.0.1",
        "port": 1,
        "database": "tasks",
    }
    assert starting["allow_signup"] is True
    assert starting["env"] == "development"
    for secret in ("db-pa55word", "redis-pa55word", "alice", settings.secret.decode()):
        assert not [line for line in lines if secret in line]
    assert any(r["event"] == "service stopped" for r in parsed(lines))


class _FailingUnitOfWork:
    """A unit-of-work factory that fails like a bug: every request needing storage is a 500."""

    def __call__(self) -> NoReturn:
        raise RuntimeError("a bug")


async def test_invite_codes_never_reach_the_log(
    client: httpx.AsyncClient, json_logs: Callable[[], list[str]], wire: Wire, tmp_path: Path
) -> None:
    alice, bob = (Person(id=f"logs-{uuid.uuid4().hex[:8]}", client=client, wire=wire) for _ in "ab")
    groceries = await alice.new_list()
    codes = [await alice.invite(groceries["id"]) for _ in range(3)]
    invites = f"/lists/{groceries['id']}/invites"
    statuses = [
        (await bob.call("POST", f"/invites/{codes[0]}/accept")).status_code,
        (await bob.call("POST", f"/invites/{codes[0]}/accept")).status_code,
        (await bob.call("POST", f"/invites/{codes[1]}/accept")).status_code,
        (await alice.call("DELETE", f"{invites}/{codes[2]}")).status_code,
        (await alice.call("DELETE", f"{invites}/{codes[2]}")).status_code,
        (await bob.call("DELETE", f"{invites}/{codes[1]}")).status_code,
    ]
    assert statuses == [200, 404, 409, 200, 404, 403]
    # A bug on each route with a code in its path: the error line names the route, not the path.
    settings = settings_for("sqlite:///unused.db", tmp_path, api_style=wire.style)
    verifier, _ = build_verifier(settings)
    issuer, hasher, throttle = build_identity(settings)
    broken = build_app(
        settings,
        Adapters(
            uow=_FailingUnitOfWork(),
            readiness=AlwaysReady(),
            verifier=verifier,
            issuer=issuer,
            hasher=hasher,
            throttle=throttle,
        ),
    )
    transport = httpx.ASGITransport(app=broken)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as failing:
        carol = Person(id="carol", client=failing, wire=wire)
        assert (await carol.call("POST", f"/invites/{codes[1]}/accept")).status_code == 500
        assert (await carol.call("DELETE", f"/lists/1/invites/{codes[2]}")).status_code == 500

    # The test's own HTTP client logs the URLs it fetches (logger `httpx`); the service's lines
    # are the rest.
    lines = [line for line in json_logs() if json.loads(line)["logger"] != "httpx"]
    records = parsed(lines)
    for code in codes:
        assert not [line for line in lines if code in line], code
    errors = [r for r in records if r["event"] == "unhandled error"]
    assert [r["route"] for r in errors] == [
        "/api/{user_id}/invites/{code}/accept",
        "/api/{user_id}/lists/{id}/invites/{code}",
    ]
    assert all("path" not in r for r in errors)
    routes = {r["route"] for r in records if r["event"] == "request"}
    assert "/api/{user_id}/invites/{code}/accept" in routes
