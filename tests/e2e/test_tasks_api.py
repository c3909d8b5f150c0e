"""Every endpoint of SPEC §3.1 and every status of §1 it can answer, over HTTP on PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.e2e.wire import Wire
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient


async def test_create_returns_the_task_with_location_and_etag(
    client: Client, tasks_url: str, auth: dict[str, str], user: str, wire: Wire
) -> None:
    body = {
        "title": "  Buy milk  ",
        "description": "two litres\n",
        "priority": "high",
        "due_at": "2030-01-31T10:00:00+02:00",
        "tags": ["Home", "home", " errands "],
    }
    response = await client.post(tasks_url, json=body, headers=auth)

    assert response.status_code == 201
    task = wire.data(response)
    assert task["title"] == "Buy milk"
    assert task["description"] == "two litres\n"
    assert task["priority"] == "high"
    assert task["due_at"] == "2030-01-31T08:00:00Z"
    assert task["due_date"] is None
    assert task["tags"] == ["home", "errands"]
    assert task["completed"] is False
    assert task["completed_at"] is None
    assert task["version"] == 1
    assert task["user_id"] == user
    assert task["id"] > 0
    assert task["created_at"].endswith("Z")
    assert response.headers["location"] == f"{tasks_url}/{task['id']}"
    assert response.headers["etag"] == '"1"'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"


async def test_defaults_and_ignored_read_only_fields(
    client: Client, tasks_url: str, auth: dict[str, str], user: str, wire: Wire
) -> None:
    body = {"title": "x", "id": 999, "user_id": "mallory", "version": 42, "created_at": "1999"}
    task = wire.data(await client.post(tasks_url, json=body, headers=auth))

    assert task["id"] != 999
    assert task["user_id"] == user
    assert task["version"] == 1
    assert task["priority"] == "none"
    assert task["tags"] == []
    assert task["description"] is None


async def test_get_honours_if_none_match(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}"

    fresh = await client.get(url, headers=auth)
    cached = await client.get(url, headers={**auth, "If-None-Match": fresh.headers["etag"]})
    stale = await client.get(url, headers={**auth, "If-None-Match": '"7"'})

    assert fresh.status_code == 200
    assert wire.data(fresh) == task
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == '"1"'
    assert stale.status_code == 200


async def test_someone_elses_task_answers_exactly_like_a_missing_one(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    intruder = "intruder-" + task["user_id"]
    intruder_auth = {"Authorization": f"Bearer {hs256(intruder)}"}
    theirs = f"/api/{intruder}/tasks/{task['id']}"
    missing = f"/api/{intruder}/tasks/999999999999"

    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"title": "stolen"} if method in ("PUT", "PATCH") else None
        a = await client.request(method, theirs, headers=intruder_auth, json=body)
        b = await client.request(method, missing, headers=intruder_auth, json=body)
        assert a.status_code == b.status_code == 404
        assert a.content == b.content
        assert wire.error(a) == "NOT_FOUND"

    still_there = await client.get(f"{tasks_url}/{task['id']}", headers=auth)
    assert wire.data(still_there)["title"] == "a task"


async def test_path_user_other_than_token_user_is_forbidden(
    client: Client, auth: dict[str, str], wire: Wire
) -> None:
    response = await client.get("/api/someone-else/tasks", headers=auth)
    assert response.status_code == 403
    assert wire.error(response) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/someone-else/tasks"),
        ("PUT", "/api/someone-else/tasks/not-an-id"),
        ("PATCH", "/api/someone-else/tasks/1/complete"),
    ],
)
async def test_a_stranger_is_forbidden_before_the_request_is_judged(
    client: Client, auth: dict[str, str], wire: Wire, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=auth, content=b"{not json")
    assert response.status_code == 403
    assert wire.error(response) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("header", "challenge"),
    [
        (None, "Bearer"),
        ("Bearer not-a-jwt", 'Bearer error="invalid_token"'),
        ("Basic dXNlcjpwYXNz", 'Bearer error="invalid_token"'),
        ("Bearer " + "a" * 9000, 'Bearer error="invalid_token"'),
    ],
)
async def test_missing_or_bad_tokens_are_unauthorized(
    client: Client, tasks_url: str, header: str | None, challenge: str, wire: Wire
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get(tasks_url, headers=headers)
    assert response.status_code == 401
    assert wire.error(response) == "UNAUTHORIZED"
    assert "details" not in response.json()
    assert response.headers["www-authenticate"] == challenge


async def test_expired_and_foreign_tokens_are_unauthorized(
    client: Client, tasks_url: str, user: str
) -> None:
    expired = hs256(user, exp=1_000_000, iat=999_000)
    foreign = hs256(user, secret=b"another-secret-that-is-long-enough-0123456789")
    for token in (expired, foreign):
        response = await client.get(tasks_url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_scheme_is_case_insensitive(client: Client, tasks_url: str, user: str) -> None:
    response = await client.get(tasks_url, headers={"Authorization": f"bearer {hs256(user)}"})
    assert response.status_code == 200


async def test_put_requires_title_keeps_left_out_fields_and_null_clears(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(description="keep me", priority="low", tags=["a"], due_date="2030-05-01")
    url = f"{tasks_url}/{task['id']}"

    missing_title = await client.put(url, json={"priority": "high"}, headers=auth)
    assert missing_title.status_code == 422
    assert wire.details(missing_title)[0]["field"] == "title"

    response = await client.put(url, json={"title": "renamed", "due_date": None}, headers=auth)
    assert response.status_code == 200
    updated = wire.data(response)
    assert updated["title"] == "renamed"
    assert updated["description"] == "keep me"
    assert updated["priority"] == "low"
    assert updated["tags"] == ["a"]
    assert updated["due_date"] is None
    assert updated["version"] == 2
    assert response.headers["etag"] == '"2"'


async def test_patch_is_a_merge_patch(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(description="old", due_date="2030-05-01")
    url = f"{tasks_url}/{task['id']}"
    merge = {**auth, "Content-Type": "application/merge-patch+json"}

    response = await client.patch(url, content=b'{"description": null}', headers=merge)
    assert response.status_code == 200
    assert wire.data(response)["description"] is None
    assert wire.data(response)["due_date"] == "2030-05-01"

    timed = await client.patch(url, json={"due_at": "2030-05-02T08:30:00Z"}, headers=auth)
    assert wire.data(timed)["due_date"] is None
    assert wire.data(timed)["due_at"] == "2030-05-02T08:30:00Z"

    for field in ("title", "completed", "priority", "tags"):
        refused = await client.patch(url, json={field: None}, headers=auth)
        assert refused.status_code == 422, field
        assert wire.details(refused)[0]["field"] == field


async def test_a_write_that_changes_nothing_keeps_version_and_updated_at(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(title="same", tags=["x"])
    url = f"{tasks_url}/{task['id']}"

    response = await client.patch(url, json={"title": " same ", "tags": ["X"]}, headers=auth)

    assert wire.data(response)["version"] == 1
    assert wire.data(response)["updated_at"] == task["updated_at"]


async def test_complete_sets_a_given_state_and_toggles_without_one(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"

    done = await client.patch(url, headers=auth)
    assert done.status_code == 200
    assert wire.data(done)["completed"] is True
    assert wire.data(done)["completed_at"] is not None
    assert done.headers["etag"] == '"2"'
    reopened = await client.patch(url, json={}, headers=auth)
    assert wire.data(reopened)["completed"] is False
    assert wire.data(reopened)["completed_at"] is None
    empty_body = {**auth, "Content-Type": "application/json"}
    again = await client.patch(url, content=b"", headers=empty_body)
    assert wire.data(again)["completed"] is True
    assert wire.data(again)["version"] == 4

    kept = await client.patch(url, json={"completed": True}, headers=auth)
    assert wire.data(kept)["completed"] is True
    assert wire.data(kept)["version"] == 4
    pending = await client.patch(url, json={"completed": False}, headers=auth)
    assert wire.data(pending)["completed"] is False
    assert wire.data(pending)["completed_at"] is None

    for body in ({"completed": "yes"}, {"completed": None}, {"done": True}):
        refused = await client.patch(url, json=body, headers=auth)
        assert refused.status_code == 422, body
        assert wire.error(refused) == "VALIDATION_ERROR"
    assert wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))["version"] == 5


async def test_a_toggle_with_if_match_is_safe_to_retry(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"
    conditional = {**auth, "If-Match": '"1"'}

    first = await client.patch(url, headers=conditional)
    replay = await client.patch(url, headers=conditional)

    assert first.status_code == 200
    assert wire.data(first)["completed"] is True
    assert replay.status_code == 412
    assert wire.error(replay) == "PRECONDITION_FAILED"
    assert wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))["version"] == 2


async def test_concurrent_toggles_each_flip_the_state_they_find(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"

    responses = await asyncio.gather(*(client.patch(url, headers=auth) for _ in range(4)))

    assert all(r.status_code == 200 for r in responses)
    assert sorted(wire.data(r)["version"] for r in responses) == [2, 3, 4, 5]
    current = wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))
    assert (current["completed"], current["version"]) == (False, 5)


async def test_delete_returns_the_deleted_task(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(title="to go")
    url = f"{tasks_url}/{task['id']}"

    response = await client.delete(url, headers=auth)
    assert response.status_code == 200
    assert wire.data(response) == task
    assert (await client.get(url, headers=auth)).status_code == 404
    assert (await client.delete(url, headers=auth)).status_code == 404


async def test_if_match_mismatch_is_412_and_nothing_is_written(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(title="original")
    url = f"{tasks_url}/{task['id']}"
    stale = {**auth, "If-Match": '"5"'}

    assert (await client.put(url, json={"title": "x"}, headers=stale)).status_code == 412
    assert (await client.patch(url, json={"title": "x"}, headers=stale)).status_code == 412
    assert (await client.patch(f"{url}/complete", headers=stale)).status_code == 412
    refused = await client.delete(url, headers=stale)
    assert refused.status_code == 412
    assert wire.error(refused) == "PRECONDITION_FAILED"

    current = wire.data(await client.get(url, headers=auth))
    assert current == task

    matching = {**auth, "If-Match": '"1"'}
    assert (await client.patch(url, json={"title": "y"}, headers=matching)).status_code == 200


async def test_concurrent_writers_with_the_same_if_match_exactly_one_wins(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(title="start")
    url = f"{tasks_url}/{task['id']}"
    headers = {**auth, "If-Match": '"1"'}

    responses = await asyncio.gather(
        *(client.patch(url, json={"title": f"writer {i}"}, headers=headers) for i in range(2))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412]
    winner = wire.data(next(r for r in responses if r.status_code == 200))
    current = wire.data(await client.get(url, headers=auth))
    assert current["title"] == winner["title"]
    assert current["version"] == 2


async def test_concurrent_unconditional_writes_lose_nothing(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task(title="start")
    url = f"{tasks_url}/{task['id']}"

    responses = await asyncio.gather(
        *(client.patch(url, json={"title": f"writer {i}"}, headers=auth) for i in range(4))
    )

    assert all(r.status_code == 200 for r in responses)
    current = wire.data(await client.get(url, headers=auth))
    assert current["version"] == 5


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"title": "a\x00b"}, "title", "control_character"),
        ({"title": "a\x85b"}, "title", "control_character"),
        ({"title": "x" * 201}, "title", "too_long"),
        ({"title": "   "}, "title", "blank"),
        ({"title": 5}, "title", "invalid_type"),
        ({"title": "ok", "description": "nul\x00"}, "description", "control_character"),
        ({"title": "ok", "description": "d" * 1001}, "description", "too_long"),
        ({"title": "ok", "priority": "urgent"}, "priority", "invalid_choice"),
        ({"title": "ok", "completed": 1}, "completed", "invalid_type"),
        ({"title": "ok", "due_date": "2030-02-30"}, "due_date", "invalid_date"),
        ({"title": "ok", "due_at": "2030-01-01T10:00:00"}, "due_at", "invalid_datetime"),
        (
            {"title": "ok", "due_date": "2030-01-01", "due_at": "2030-01-01T10:00:00Z"},
            "due_at",
            "conflict",
        ),
        ({"title": "ok", "tags": ["no/slash"]}, "tags", "invalid_character"),
        ({"title": "ok", "tags": [str(i) for i in range(21)]}, "tags", "too_many"),
        ({"title": "ok", "colour": "red"}, "colour", "unknown_field"),
    ],
)
async def test_invalid_fields_are_422_with_details(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    body: dict[str, Any],
    field: str,
    code: str,
    wire: Wire,
) -> None:
    response = await client.post(tasks_url, json=body, headers=auth)

    assert response.status_code == 422
    assert wire.error(response) == "VALIDATION_ERROR"
    assert {"field": field, "code": code} == {
        k: wire.details(response)[0][k] for k in ("field", "code")
    }
    listing = await client.get(tasks_url, headers=auth)
    assert wire.data(listing) == []


async def test_every_broken_rule_is_listed(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    body = {"title": "", "priority": "x", "tags": "no", "extra": 1}
    response = await client.post(tasks_url, json=body, headers=auth)
    fields = {d["field"] for d in wire.details(response)}
    assert fields == {"title", "priority", "tags", "extra"}


async def test_characters_not_bytes_are_counted(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    title = "😀" * 200
    response = await client.post(
        tasks_url, json={"title": title, "description": "\u200b"}, headers=auth
    )
    assert response.status_code == 201
    assert wire.data(response)["title"] == title
    assert wire.data(response)["description"] == "\u200b"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"[1, 2]", "application/json", 400, "BAD_REQUEST"),
        (b'"title"', "application/json", 400, "BAD_REQUEST"),
        (b'{"title": "\xff\xfe"}', "application/json", 400, "BAD_REQUEST"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b'{"title": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"title": "x"}', "application/json; charset=latin-1", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"title": "' + b"x" * (64 * 1024) + b'"}', "application/json", 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_bad_bodies(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    content: bytes,
    content_type: str,
    status: int,
    code: str,
    wire: Wire,
) -> None:
    headers = {**auth, "Content-Type": content_type}
    response = await client.post(tasks_url, content=content, headers=headers)
    assert response.status_code == status
    assert wire.error(response) == code


async def test_merge_patch_media_type_only_on_patch(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    headers = {**auth, "Content-Type": "application/merge-patch+json"}
    response = await client.post(tasks_url, content=b'{"title": "x"}', headers=headers)
    assert response.status_code == 415


async def test_a_streamed_body_over_the_limit_is_413(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    async def chunks() -> Any:
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 4096

    headers = {**auth, "Content-Type": "application/json"}
    response = await client.post(tasks_url, content=chunks(), headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize("task_id", ["0", "-1", "abc", "1.5", "9223372036854775808", "01", "１"])
async def test_ids_that_are_not_positive_64_bit_integers_are_404(
    client: Client, tasks_url: str, auth: dict[str, str], task_id: str, wire: Wire
) -> None:
    response = await client.get(f"{tasks_url}/{task_id}", headers=auth)
    assert response.status_code == 404
    assert wire.error(response) == "NOT_FOUND"


async def test_largest_64_bit_id_is_a_plain_404(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await client.get(f"{tasks_url}/9223372036854775807", headers=auth)
    assert response.status_code == 404


async def test_unknown_route_and_wrong_method(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    missing = await client.get("/api/nothing/here/at/all", headers=auth)
    assert missing.status_code == 404
    assert wire.error(missing) == "NOT_FOUND"

    wrong = await client.delete(tasks_url, headers=auth)
    assert wrong.status_code == 405
    assert wire.error(wrong) == "METHOD_NOT_ALLOWED"
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_request_id_is_echoed_or_generated(client: Client) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})

    assert echoed.headers["x-request-id"] == "abc-123"
    assert generated.headers["x-request-id"] not in ("", "bad id\twith junk")
    assert (await client.get("/nope")).headers["x-request-id"]


async def test_probes(client: Client, wire: Wire) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert wire.data(ready) == {"status": "ready"}
