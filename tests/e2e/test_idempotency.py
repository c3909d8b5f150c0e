"""Idempotency-Key on a create and on /complete (SPEC §3.1): a retry never doubles or re-toggles."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update

from adapters.persistence.tables import idempotency_keys
from tests.e2e.conftest import ON_POSTGRES_ONLY
from tests.e2e.wire import Wire
from tests.integration.sql_backends import engine_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    """`auth` plus an Idempotency-Key."""
    return {**auth, "Idempotency-Key": key}


async def count(client: Client, url: str, auth: dict[str, str], wire: Wire) -> int:
    """How many tasks the user has."""
    counts = wire.counts(await client.get(url, headers=auth))
    return int(counts["pending"] + counts["completed"])


def new_key() -> str:
    """A key no other test uses."""
    return f"create:{uuid.uuid4()}"


async def test_a_retry_gets_the_original_answer_and_creates_nothing(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    first = await client.post(
        tasks_url, json={"title": "once", "tags": ["a"]}, headers=keyed(auth, key)
    )
    retry = await client.post(
        tasks_url, json={"tags": ["a"], "title": "once"}, headers=keyed(auth, key)
    )

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    for header in ("Location", "ETag"):
        assert retry.headers[header] == first.headers[header]
    assert await count(client, tasks_url, auth, wire) == 1


async def test_a_replay_is_the_original_even_after_the_task_changed(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    first = await client.post(tasks_url, json={"title": "original"}, headers=keyed(auth, key))
    await client.delete(first.headers["Location"], headers=auth)

    retry = await client.post(tasks_url, json={"title": "original"}, headers=keyed(auth, key))

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert await count(client, tasks_url, auth, wire) == 0


async def test_the_same_key_with_another_body_is_422_and_creates_nothing(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    await client.post(tasks_url, json={"title": "one"}, headers=keyed(auth, key))
    reused = await client.post(tasks_url, json={"title": "two"}, headers=keyed(auth, key))

    assert reused.status_code == 422
    assert wire.error(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert await count(client, tasks_url, auth, wire) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "semi;colon", "ünïcode", "a/b"])
async def test_a_malformed_key_is_a_validation_error(
    client: Client, tasks_url: str, auth: dict[str, str], key: str, wire: Wire
) -> None:
    # As bytes: the key goes over the wire as UTF-8 octets, as a careless client would send it.
    headers = [(k.encode(), v.encode()) for k, v in auth.items()]
    headers.append((b"Idempotency-Key", key.encode()))
    response = await client.post(tasks_url, json={"title": "t"}, headers=headers)

    assert response.status_code == 422
    assert wire.error(response) == "VALIDATION_ERROR"
    assert [d["field"] for d in wire.details(response)] == ["Idempotency-Key"]
    assert await count(client, tasks_url, auth, wire) == 0


async def test_a_malformed_key_and_body_are_reported_together(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    response = await client.post(tasks_url, json={"title": ""}, headers=keyed(auth, "bad key"))
    assert response.status_code == 422
    assert {d["field"] for d in wire.details(response)} == {"Idempotency-Key", "title"}


async def test_the_longest_key_with_every_allowed_character_works(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    key = ("Az09_.:-" * 32)[:255]
    first = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    retry = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"


async def test_keys_are_scoped_to_the_user(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    other = f"user-{uuid.uuid4().hex[:10]}"
    other_auth = {"Authorization": f"Bearer {hs256(other)}"}
    mine = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    theirs = await client.post(
        f"/api/{other}/tasks", json={"title": "t"}, headers=keyed(other_auth, key)
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert wire.data(theirs)["user_id"] == other


async def test_concurrent_requests_with_one_key_create_exactly_one_task(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    responses = await asyncio.gather(
        *(
            client.post(tasks_url, json={"title": "race"}, headers=keyed(auth, key))
            for _ in range(6)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert sum("Idempotent-Replayed" not in r.headers for r in created) == 1
    assert len({wire.data(r)["id"] for r in created}) == 1
    assert await count(client, tasks_url, auth, wire) == 1


@ON_POSTGRES_ONLY
async def test_after_24_hours_the_key_creates_a_new_task(
    client: Client,
    tasks_url: str,
    auth: dict[str, str],
    user: str,
    migrated_postgres_url: str,
    wire: Wire,
) -> None:
    key = new_key()
    first = await client.post(tasks_url, json={"title": "daily"}, headers=keyed(auth, key))
    async with engine_for(migrated_postgres_url) as engine, engine.begin() as connection:
        await connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.user_id == user, idempotency_keys.c.key == key)
            .values(created_at=func.now() - timedelta(hours=24, seconds=1))
        )

    later = await client.post(tasks_url, json={"title": "daily"}, headers=keyed(auth, key))
    retry = await client.post(tasks_url, json={"title": "daily"}, headers=keyed(auth, key))

    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later.headers
    assert wire.data(later)["id"] != wire.data(first)["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == later.json()
    assert await count(client, tasks_url, auth, wire) == 2


async def test_without_a_key_every_post_creates(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    for _ in range(2):
        assert (await client.post(tasks_url, json={"title": "t"}, headers=auth)).status_code == 201
    assert await count(client, tasks_url, auth, wire) == 2


async def test_a_retried_toggle_gets_the_first_answer_and_toggles_once(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"
    key = new_key()

    first = await client.patch(url, headers=keyed(auth, key))
    retry = await client.patch(url, json={}, headers=keyed(auth, key))

    assert first.status_code == retry.status_code == 200
    assert wire.data(first)["completed"] is True
    # The answer kept is the one the style in force rendered.
    assert retry.content == first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ETag"] == first.headers["ETag"] == '"2"'
    current = wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))
    assert (current["completed"], current["version"]) == (True, 2)

    reopened = await client.patch(url, headers=keyed(auth, new_key()))
    assert wire.data(reopened)["completed"] is False


async def test_a_toggle_key_on_another_task_route_or_body_is_reused(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    one, other = await make_task(), await make_task()
    key = new_key()
    assert (
        await client.patch(f"{tasks_url}/{one['id']}/complete", headers=keyed(auth, key))
    ).status_code == 200

    refusals = [
        await client.patch(f"{tasks_url}/{other['id']}/complete", headers=keyed(auth, key)),
        await client.patch(
            f"{tasks_url}/{one['id']}/complete", json={"completed": True}, headers=keyed(auth, key)
        ),
        await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key)),
    ]

    for refused in refusals:
        assert refused.status_code == 422
        assert wire.error(refused) == "IDEMPOTENCY_KEY_REUSED"
    assert wire.data(await client.get(f"{tasks_url}/{other['id']}", headers=auth))["version"] == 1
    assert await count(client, tasks_url, auth, wire) == 2


async def test_a_create_key_is_not_a_toggle_key(
    client: Client, tasks_url: str, auth: dict[str, str], wire: Wire
) -> None:
    key = new_key()
    created = await client.post(tasks_url, json={}, headers=keyed(auth, key))
    assert created.status_code == 422  # no title: nothing kept under the key
    created = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    task_id = wire.data(created)["id"]

    toggle = await client.patch(f"{tasks_url}/{task_id}/complete", headers=keyed(auth, key))

    assert toggle.status_code == 422
    assert wire.error(toggle) == "IDEMPOTENCY_KEY_REUSED"


async def test_a_malformed_toggle_key_and_body_are_reported_together(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"

    response = await client.patch(url, json={"completed": 1}, headers=keyed(auth, "bad key"))

    assert response.status_code == 422
    assert wire.error(response) == "VALIDATION_ERROR"
    assert {d["field"] for d in wire.details(response)} == {"Idempotency-Key", "completed"}
    assert wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))["version"] == 1


async def test_concurrent_toggles_with_one_key_toggle_once(
    client: Client, tasks_url: str, auth: dict[str, str], make_task: Any, wire: Wire
) -> None:
    task = await make_task()
    url = f"{tasks_url}/{task['id']}/complete"
    key = new_key()

    responses = await asyncio.gather(
        *(client.patch(url, headers=keyed(auth, key)) for _ in range(6))
    )

    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 409}
    done = [r for r in responses if r.status_code == 200]
    assert sum("Idempotent-Replayed" not in r.headers for r in done) == 1
    current = wire.data(await client.get(f"{tasks_url}/{task['id']}", headers=auth))
    assert (current["completed"], current["version"]) == (True, 2)
