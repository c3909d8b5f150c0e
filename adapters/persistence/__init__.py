"""Driven adapter: SQLAlchemy Core tables, repositories and unit of work on PostgreSQL or SQLite."""

from adapters.persistence.database import Database, SqlReadiness
from adapters.persistence.engine import create_migration_engine
from adapters.persistence.files import tighten_folder
from adapters.persistence.migrations import downgrade_to_base, head_revision, upgrade_to_head
from adapters.persistence.notify import PgChangeRelay
from adapters.persistence.repositories import SqlUserRepository
from adapters.persistence.tables import metadata
from adapters.persistence.tasks import SqlTaskRepository
from adapters.persistence.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from adapters.persistence.urls import Endpoints, async_database_url, endpoints, transaction_pooler

__all__ = [
    "Database",
    "Endpoints",
    "PgChangeRelay",
    "SqlReadiness",
    "SqlTaskRepository",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "SqlUserRepository",
    "async_database_url",
    "create_migration_engine",
    "downgrade_to_base",
    "endpoints",
    "head_revision",
    "metadata",
    "tighten_folder",
    "transaction_pooler",
    "upgrade_to_head",
]
