"""Alembic environment: async, on the service's own URL handling and engine settings."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from adapters.persistence.engine import create_migration_engine
from adapters.persistence.tables import in_schema_of, metadata
from adapters.persistence.urls import async_database_url, endpoints
from taskservice.settings import database_settings

config = context.config
target_metadata = metadata

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database() -> tuple[str, bool | None]:
    """The URL to migrate and whether a transaction pooler is on the way (None: as it says).

    The caller's, else what the service's settings name (environment over .env): the direct
    URL when there is one, else DATABASE_URL, else the embedded SQLite file.
    """
    given = config.attributes.get("database_url")
    if given:
        return str(given), config.attributes.get("pooled")
    url, direct_url, pooler = database_settings()
    return endpoints(url, direct_url=direct_url, pooler=pooler).migrations


def run_migrations_offline() -> None:
    """Write the migration SQL to stdout (`alembic upgrade head --sql`)."""
    url, _ = async_database_url(database()[0])
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
    url, pooled = database()
    engine = create_migration_engine(url, pooled=pooled)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
