"""A bug answers 500 INTERNAL_ERROR with a request id and no internals; storage trouble is a 503."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import httpx

from adapters.memory import AlwaysReady
from domain.errors import StorageUnavailable
from taskservice.bootstrap import Adapters, build_app, build_identity, build_verifier
from tests.e2e.conftest import settings_for
from tests.e2e.wire import Wire
from tests.tokens import hs256


class ExplodingUnitOfWork:
    """A unit-of-work factory whose every use raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self) -> NoReturn:
        raise self.error


async def _get(error: Exception, tmp_path: Path, wire: Wire) -> httpx.Response:
    settings = settings_for("sqlite:///unused.db", tmp_path, api_style=wire.style)
    verifier, _ = build_verifier(settings)
    issuer, hasher, throttle = build_identity(settings)
    adapters = Adapters(
        uow=ExplodingUnitOfWork(error),
        readiness=AlwaysReady(),
        verifier=verifier,
        issuer=issuer,
        hasher=hasher,
        throttle=throttle,
    )
    transport = httpx.ASGITransport(app=build_app(settings, adapters))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"Authorization": f"Bearer {hs256('u1')}", "X-Request-ID": "req-42"}
        return await client.get("/api/u1/tasks", headers=headers)


async def test_a_bug_is_an_internal_error_with_the_request_id(tmp_path: Path, wire: Wire) -> None:
    response = await _get(RuntimeError("secret internals: password=hunter2"), tmp_path, wire)

    assert response.status_code == 500
    assert wire.error(response) == "INTERNAL_ERROR"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["cache-control"] == "no-store"


async def test_storage_trouble_is_a_503_with_retry_after(tmp_path: Path, wire: Wire) -> None:
    response = await _get(StorageUnavailable(), tmp_path, wire)

    assert response.status_code == 503
    assert wire.error(response) == "SERVICE_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0
