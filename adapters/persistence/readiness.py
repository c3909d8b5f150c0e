"""Readiness: the database answers and its schema is at the migration this code expects."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.engine import READ_ONLY
from adapters.persistence.pool import connect

log = logging.getLogger(__name__)


class SqlReadiness:
    """Checks `alembic_version` against the head revision within a short timeout."""

    def __init__(self, engine: AsyncEngine, head: str, *, timeout: float = 2.0) -> None:
        self._engine = engine
        self._head = head
        self._timeout = timeout

    async def is_ready(self) -> bool:
        """True iff the schema version answers in time and equals the head; never raises."""
        try:
            async with asyncio.timeout(self._timeout):
                # Through pool.connect: units of work may keep every connection there is.
                connection = await connect(self._engine)
                try:
                    await connection.execution_options(**{READ_ONLY: True})
                    version: object = await connection.scalar(
                        text("SELECT version_num FROM alembic_version")
                    )
                finally:
                    await connection.close()
        except Exception as error:  # any failure at all means "not ready", by contract
            log.debug("database not ready: %r", error)
            return False
        return version == self._head
