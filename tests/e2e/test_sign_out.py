"""Signing out ends the session on the server, on every instance (SPEC §5), on one PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from domain.sessions import REVOCATION_DELAY
from taskservice.bootstrap import build_app
from tests.e2e.conftest import settings_for
from tests.e2e.web_conftest import PASSWORD, Html, new_email

pytestmark = pytest.mark.postgres
COOKIE = "__Host-session"
# Scheduling on a busy machine, on top of the bound itself.
SLACK_S = 0.5


@asynccontextmanager
async def instance(database_url: str, data: Path) -> AsyncIterator[httpx.AsyncClient]:
    """One instance of the service on `database_url`, and a browser-like client of it."""
    app = build_app(settings_for(database_url, data))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield c


async def signed_up(browser: httpx.AsyncClient) -> tuple[str, str]:
    """Sign a new account up through the web UI; its session token and user id."""
    form = Html((await browser.get("/sign-up")).text)
    data = {"csrf_token": form.value("csrf_token"), "email": new_email(), "password": PASSWORD}
    assert (await browser.post("/sign-up", data=data)).status_code == 303
    token = browser.cookies[COOKIE]
    me = await browser.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return token, me.json()["data"]["id"]


async def test_a_signed_out_session_is_refused_here_at_once_and_elsewhere_within_a_second(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    async with (
        instance(migrated_postgres_url, tmp_path / "here") as here,
        instance(migrated_postgres_url, tmp_path / "there") as there,
    ):
        token, user_id = await signed_up(here)
        bearer = {"Authorization": f"Bearer {token}"}
        tasks = f"/api/{user_id}/tasks"
        assert (await here.get(tasks, headers=bearer)).status_code == 200
        assert (await there.get(tasks, headers=bearer)).status_code == 200
        there.cookies.set(COOKIE, token)
        assert (await there.get("/tasks")).status_code == 200

        csrf = Html((await here.get("/tasks")).text).value("csrf_token")
        assert (await here.post("/sign-out", data={"csrf_token": csrf})).status_code == 303
        signed_out = time.monotonic()

        assert (await here.get(tasks, headers=bearer)).status_code == 401
        here.cookies.set(COOKIE, token)
        page = await here.get("/tasks")
        assert (page.status_code, page.headers["location"]) == (303, "/sign-in?next=/tasks")

        while (status := (await there.get(tasks, headers=bearer)).status_code) == 200:
            assert time.monotonic() - signed_out < REVOCATION_DELAY.total_seconds() + SLACK_S
            await asyncio.sleep(0.02)
        assert status == 401
        page = await there.get("/tasks")
        assert (page.status_code, page.headers["location"]) == (303, "/sign-in?next=/tasks")
