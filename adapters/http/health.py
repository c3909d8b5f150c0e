"""Liveness and readiness probes for orchestrators."""

from __future__ import annotations

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http.codes import ErrorCode
from adapters.http.errors import RETRY_AFTER_SECONDS
from adapters.http.style import Style
from taskservice.ports import Readiness


@attrs.frozen(kw_only=True)
class HealthApi:
    """GET /healthz (the process runs) and GET /readyz (storage answers, schema current)."""

    readiness: Readiness
    style: Style

    def routes(self) -> list[Route]:
        """The probe routes."""
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
        ]

    async def healthz(self, request: Request) -> Response:
        """200 while the process runs."""
        return self.style.resource({"status": "ok"}, "The service is running.")

    async def readyz(self, request: Request) -> Response:
        """200 when the database answers at the latest migration, else 503."""
        if await self.readiness.is_ready():
            return self.style.resource({"status": "ready"}, "The service is ready.")
        return self.style.error(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            "The database is unreachable or not migrated.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
