"""Idempotency-Key on POST /api/{user_id}/tasks (SPEC §3.1): a retried create never doubles."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, update

from adapters.persistence.tables import idempotency_keys
from tests.integration.sql_backends import engine_for
from tests.tokens import hs256

pytestmark = pytest.mark.postgres

Client = httpx.AsyncClient


def keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    """`auth` plus an Idempotency-Key."""
    return {**auth, "Idempotency-Key": key}


async def count(client: Client, url: str, auth: dict[str, str]) -> int:
    """How many tasks the user has."""
    counts = (await client.get(url, headers=auth)).json()["meta"]["counts"]
    return int(counts["pending"] + counts["completed"])


def new_key() -> str:
    """A key no other test uses."""
    return f"create:{uuid.uuid4()}"


async def test_a_retry_gets_the_original_answer_and_creates_nothing(
    client: Client, tasks_url: str, auth: dict[str, str]
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
    assert await count(client, tasks_url, auth) == 1


async def test_a_replay_is_the_original_even_after_the_task_changed(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    key = new_key()
    first = await client.post(tasks_url, json={"title": "original"}, headers=keyed(auth, key))
    await client.delete(first.headers["Location"], headers=auth)

    retry = await client.post(tasks_url, json={"title": "original"}, headers=keyed(auth, key))

    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert await count(client, tasks_url, auth) == 0


async def test_the_same_key_with_another_body_is_422_and_creates_nothing(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    key = new_key()
    await client.post(tasks_url, json={"title": "one"}, headers=keyed(auth, key))
    reused = await client.post(tasks_url, json={"title": "two"}, headers=keyed(auth, key))

    assert reused.status_code == 422
    assert reused.json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert reused.json()["data"] is None
    assert await count(client, tasks_url, auth) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "semi;colon", "ünïcode", "a/b"])
async def test_a_malformed_key_is_a_validation_error(
    client: Client, tasks_url: str, auth: dict[str, str], key: str
) -> None:
    # As bytes: the key goes over the wire as UTF-8 octets, as a careless client would send it.
    headers = [(k.encode(), v.encode()) for k, v in auth.items()]
    headers.append((b"Idempotency-Key", key.encode()))
    response = await client.post(tasks_url, json={"title": "t"}, headers=headers)

    assert response.status_code == 422
    assert response.json()["error"] == "VALIDATION_ERROR"
    assert [d["field"] for d in response.json()["details"]] == ["Idempotency-Key"]
    assert await count(client, tasks_url, auth) == 0


async def test_a_malformed_key_and_body_are_reported_together(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await client.post(tasks_url, json={"title": ""}, headers=keyed(auth, "bad key"))
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["details"]} == {"Idempotency-Key", "title"}


async def test_the_longest_key_with_every_allowed_character_works(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    key = ("Az09_.:-" * 32)[:255]
    first = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    retry = await client.post(tasks_url, json={"title": "t"}, headers=keyed(auth, key))
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"


async def test_keys_are_scoped_to_the_user(
    client: Client, tasks_url: str, auth: dict[str, str]
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
    assert theirs.json()["data"]["user_id"] == other


async def test_concurrent_requests_with_one_key_create_exactly_one_task(
    client: Client, tasks_url: str, auth: dict[str, str]
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
    assert len({r.json()["data"]["id"] for r in created}) == 1
    assert await count(client, tasks_url, auth) == 1


async def test_after_24_hours_the_key_creates_a_new_task(
    client: Client, tasks_url: str, auth: dict[str, str], user: str, migrated_postgres_url: str
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
    assert later.json()["data"]["id"] != first.json()["data"]["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == later.json()
    assert await count(client, tasks_url, auth) == 2


async def test_without_a_key_every_post_creates(
    client: Client, tasks_url: str, auth: dict[str, str]
) -> None:
    for _ in range(2):
        assert (await client.post(tasks_url, json={"title": "t"}, headers=auth)).status_code == 201
    assert await count(client, tasks_url, auth) == 2
