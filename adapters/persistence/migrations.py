"""Running the Alembic migrations in `migrations/` from code (the `migrate` command, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT: Final = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR: Final = ROOT / "migrations"
ALEMBIC_INI: Final = ROOT / "alembic.ini"


def alembic_config(raw_url: str | None = None, *, pooled: bool | None = None) -> Config:
    """The Alembic config of `alembic.ini`, aimed at `raw_url` and leaving logging alone.

    `pooled`: whether `raw_url` goes through a transaction pooler (None: as the URL says).
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # This code is importable already; without this every call would grow sys.path.
    config.set_main_option("prepend_sys_path", "")
    # env.py reads these; logging stays as the calling program configured it.
    config.attributes["database_url"] = raw_url
    config.attributes["pooled"] = pooled
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str:
    """The revision the code expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No migrations found in {MIGRATIONS_DIR}")
    return head


def upgrade_to_head(raw_url: str, *, pooled: bool | None = None) -> None:
    """Migrate the database to the latest revision (through a transaction pooler if `pooled`).

    Synchronous, because env.py runs its own event loop: from async code, call it in a
    thread, e.g. `await asyncio.to_thread(upgrade_to_head, url)`.
    """
    _refuse_inside_event_loop()
    command.upgrade(alembic_config(raw_url, pooled=pooled), "head")


def downgrade_to_base(raw_url: str, *, pooled: bool | None = None) -> None:
    """Undo every migration (synchronous; see `upgrade_to_head`)."""
    _refuse_inside_event_loop()
    command.downgrade(alembic_config(raw_url, pooled=pooled), "base")


def _refuse_inside_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "Migrations run their own event loop; call them in a thread: "
        "`await asyncio.to_thread(upgrade_to_head, url)`"
    )
