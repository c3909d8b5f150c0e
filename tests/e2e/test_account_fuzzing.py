"""Generated sign-up and sign-in bodies over HTTP on PostgreSQL: never a 5xx, never half-written.

E-mails are built from the characters the rules turn on (letters whose lower case is longer,
"İ" above all; whitespace that trimming removes; controls; NUL, which PostgreSQL text refuses;
characters outside the BMP), at lengths around the 254-character limit, and as other JSON types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, seed, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from taskservice.bootstrap import build_app
from tests.e2e.conftest import settings_for

pytestmark = pytest.mark.postgres

CHARACTERS = [*"aZ09.-_+'@ \t\x00\x07\u0085\u00a0İıßẞΣςé٣", "\U0001f600"]
TEXT = st.text(st.sampled_from(CHARACTERS), max_size=20)
JSON_OTHER = st.none() | st.integers() | st.booleans() | st.lists(st.integers(), max_size=2)
# Addresses the syntax rules accept, short ones and long ones (to 321 characters) with many an
# "İ": around the limit of 254, as given and in lower case.
LOCAL_CHARACTERS = st.sampled_from([*"aZ09.+_'İıßẞΣ", "\U0001f600"])
LABEL_CHARACTERS = st.sampled_from("aZ9İİİıßé")


def address(shortest: int) -> st.SearchStrategy[str]:
    """Addresses whose local part and labels are at least `shortest` characters."""
    return st.builds(
        "{}{}@{}{}".format,
        st.sampled_from(["", " ", "\t"]),
        st.text(LOCAL_CHARACTERS, min_size=shortest, max_size=64),
        st.lists(
            st.text(LABEL_CHARACTERS, min_size=shortest, max_size=63), min_size=2, max_size=4
        ).map(".".join),
        st.sampled_from(["", " "]),
    )


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` four times in five (and when shrinking), else `other`."""
    return st.integers(0, 4).flatmap(lambda n: other if n == 4 else usual)


EMAILS = mostly(address(1) | address(30) | address(30), TEXT | JSON_OTHER)
PASSWORDS = mostly(st.text(min_size=8, max_size=128), TEXT | JSON_OTHER)
NAMES = mostly(st.none(), TEXT | st.text(max_size=110) | st.integers())
DOTTED_CAPITALS = "İ" * 64 + "@" + "İ" * 63 + "." + "İ" * 63 + ".com"


@pytest.fixture(scope="module")
async def fuzzed(
    migrated_postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection]]:
    """A client of the service on PostgreSQL, and a connection that reads its users table."""
    app: Starlette = build_app(settings_for(migrated_postgres_url, tmp_path_factory.mktemp("fuzz")))
    transport = httpx.ASGITransport(app=app)
    connection = await asyncpg.connect(migrated_postgres_url)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            yield client, connection
    finally:
        await connection.close()


async def _users(connection: asyncpg.Connection) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM users")
    return count


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@seed(19)
@example(email=DOTTED_CAPITALS, password="password1", name=None)
@example(email=" " + "A" * 64 + "@" + "İ" * 63 + "." + "b" * 60 + ".co ", password="x" * 8, name="")
@given(email=EMAILS, password=PASSWORDS, name=NAMES)
async def test_sign_up_then_sign_in_never_fail_on_our_side(
    fuzzed: tuple[httpx.AsyncClient, asyncpg.Connection], email: Any, password: Any, name: Any
) -> None:
    client, connection = fuzzed
    before = await _users(connection)
    body = {"email": email, "password": password} | ({} if name is None else {"name": name})

    signed_up = await client.post("/api/auth/sign-up", json=body)
    written = await _users(connection) - before
    signed_in = await client.post("/api/auth/sign-in", json={"email": email, "password": password})

    print(
        "STATUS",
        signed_up.status_code,
        signed_in.status_code,
        [(d["field"], d["code"]) for d in signed_up.json().get("details") or []],
    )
    assert signed_up.status_code in {201, 409, 422}, signed_up.text
    assert written == (1 if signed_up.status_code == 201 else 0)
    assert signed_in.status_code in {200, 401, 422}, signed_in.text
    if signed_up.status_code == 201:
        assert signed_in.status_code == 200
        assert signed_in.json()["data"]["user"] == signed_up.json()["data"]["user"]
