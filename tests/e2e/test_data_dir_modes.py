"""The embedded database and DATA_DIR are the service user's alone (SPEC §6): 0700 and 0600."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import httpx

from adapters.persistence import upgrade_to_head
from taskservice.bootstrap import build_app
from taskservice.settings import Settings
from tests.tokens import SECRET

DATABASE_FILES = ("tasks.db", "tasks.db-wal", "tasks.db-shm")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def modes_after_a_write(data_dir: Path) -> dict[str, int]:
    """Migrate and serve the embedded default in `data_dir`, write through HTTP, read the modes."""
    environ = {"DATA_DIR": str(data_dir), "BETTER_AUTH_SECRET": SECRET.decode()}
    settings = Settings.load(environ, cwd=data_dir.parent)
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        body = {"email": "modes@example.com", "password": "correct horse battery"}
        assert (await client.post("/api/auth/sign-up", json=body)).status_code == 201
        # While the service runs, SQLite keeps its write-ahead log and shared memory beside the file.
        return {"DATA_DIR": mode(data_dir)} | {f: mode(data_dir / f) for f in DATABASE_FILES}


async def test_a_new_data_dir_and_database_are_private(tmp_path: Path) -> None:
    modes = await modes_after_a_write(tmp_path / "data")

    assert modes == {"DATA_DIR": 0o700} | dict.fromkeys(DATABASE_FILES, 0o600)


async def test_an_existing_data_dir_and_database_with_loose_modes_are_tightened(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)  # noqa: S103 - the loose mode under test
    # A database as earlier versions left it, a crash having left its -wal and -shm behind.
    with sqlite3.connect(data_dir / "tasks.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE leftover (x)")
    for name in DATABASE_FILES:
        (data_dir / name).touch()
        os.chmod(data_dir / name, 0o644)

    modes = await modes_after_a_write(data_dir)

    assert modes == {"DATA_DIR": 0o700} | dict.fromkeys(DATABASE_FILES, 0o600)
