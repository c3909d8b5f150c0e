"""Alembic environment: async, on the service's own URL handling and engine settings."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from dotenv import dotenv_values
from sqlalchemy.engine import Connection

from adapters.persistence.engine import create_migration_engine
from adapters.persistence.tables import in_schema_of, metadata
from adapters.persistence.urls import async_database_url

config = context.config
target_metadata = metadata

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """The caller's URL, else DATABASE_URL (environment over .env), else the embedded SQLite file."""
    given = config.attributes.get("database_url")
    if given:
        return str(given)
    # The same sources and precedence as the service's settings, so both migrate one database.
    dotenv = {k: v for k, v in dotenv_values(Path.cwd() / ".env").items() if v is not None}
    env = {**dotenv, **os.environ}
    if env.get("DATABASE_URL"):
        return env["DATABASE_URL"]
    data_dir = Path(env.get("DATA_DIR") or "data")
    return f"sqlite:///{data_dir / 'tasks.db'}"


def run_migrations_offline() -> None:
    """Write the migration SQL to stdout (`alembic upgrade head --sql`)."""
    url, _ = async_database_url(database_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on one connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # Autogenerate must not ask SQLite for the PostgreSQL-only indexes.
        include_object=lambda _, name, kind, *__: in_schema_of(name, kind, connection.dialect.name),
        # The engine really BEGINs on SQLite too, so one failed step undoes the whole upgrade.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Connect with the service's engine settings and migrate."""
    engine = create_migration_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
