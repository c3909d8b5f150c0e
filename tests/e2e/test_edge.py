"""Edge hygiene and metrics: CORS for listed origins only, security headers, Prometheus series."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from taskservice.bootstrap import build_app
from taskservice.serving import proxy_options
from taskservice.settings import ConfigurationError, Settings
from tests.e2e.conftest import ON_POSTGRES_ONLY, settings_for

ALLOWED = "https://app.example"
METRICS_TOKEN = "scrape-token-0123456789abcdef"
OTHER = "https://evil.example"


@pytest.fixture
async def cors_client(
    migrated_postgres_url: str, tmp_path: Path, api_style: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The service with CORS_ORIGINS set to ALLOWED only."""
    settings = settings_for(
        migrated_postgres_url, tmp_path, cors_origins=(ALLOWED,), api_style=api_style
    )
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def test_a_listed_origin_may_read_responses_with_credentials(
    cors_client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await cors_client.get(tasks_url, headers={**auth, "Origin": ALLOWED})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in response.headers["vary"]
    exposed = response.headers["access-control-expose-headers"].lower()
    assert {"etag", "location", "retry-after", "x-request-id", "idempotent-replayed"} <= set(
        exposed.split(", ")
    )
    # What the plain style's list says in headers, a script on the frontend's origin reads.
    assert {"link", "x-total-count", "x-pending-count", "x-completed-count"} <= set(
        exposed.split(", ")
    )


async def test_another_origin_gets_no_cors_headers(
    cors_client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await cors_client.get(tasks_url, headers={**auth, "Origin": OTHER})
    preflight = await cors_client.options(
        tasks_url, headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 200
    assert not [h for h in response.headers if h.startswith("access-control-")]
    assert preflight.status_code == 405
    assert not [h for h in preflight.headers if h.startswith("access-control-")]


async def test_a_preflight_for_a_conditional_patch_is_allowed(
    cors_client: httpx.AsyncClient, tasks_url: str
) -> None:
    response = await cors_client.options(
        f"{tasks_url}/1",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "if-match"} <= set(allowed.split(", "))


async def test_without_cors_origins_no_origin_is_allowed(
    client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str]
) -> None:
    response = await client.get(tasks_url, headers={**auth, "Origin": ALLOWED})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "origins", ["*", "https://app.example, *", "https://*.example.com", "https://app.example/path"]
)
def test_a_wildcard_or_a_non_origin_in_cors_origins_stops_start_up(
    tmp_path: Path, origins: str
) -> None:
    environ = {"BETTER_AUTH_SECRET": "s" * 32, "CORS_ORIGINS": origins}
    with pytest.raises(ConfigurationError, match="CORS_ORIGINS"):
        Settings.load(environ, cwd=tmp_path)


async def test_api_responses_carry_security_headers_and_no_store(
    client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str]
) -> None:
    responses = [
        await client.get(tasks_url, headers=auth),
        await client.get(tasks_url),
        await client.get("/api/nothing/here", headers=auth),
    ]

    assert [r.status_code for r in responses] == [200, 401, 404]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-request-id"]
    assert (await client.get("/healthz")).headers["x-content-type-options"] == "nosniff"


@ON_POSTGRES_ONLY
async def test_metrics_count_requests_by_route_template_and_show_the_pool(
    client: httpx.AsyncClient, tasks_url: str, auth: dict[str, str]
) -> None:
    assert (await client.get(tasks_url, headers=auth)).status_code == 200
    response = await client.get("/metrics")

    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = families["taskservice_http_requests"].samples
    assert any(
        s.labels == {"method": "GET", "route": "/api/{user_id}/tasks", "status": "200"}
        and s.value >= 1
        for s in requests
        if s.name == "taskservice_http_requests_total"
    )
    assert "taskservice_http_request_duration_seconds" in families
    pool = {s.labels["state"]: s.value for s in families["taskservice_db_pool_connections"].samples}
    assert set(pool) == {"size", "checked_out", "checked_in", "overflow"}
    assert pool["size"] == 10
    assert pool["checked_out"] == 0
    assert pool["checked_in"] >= 1


@pytest.fixture
async def guarded_metrics(
    migrated_postgres_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The service with METRICS_TOKEN set."""
    settings = settings_for(migrated_postgres_url, tmp_path, metrics_token=METRICS_TOKEN)
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client


async def test_with_a_metrics_token_metrics_need_it_as_a_bearer_token(
    guarded_metrics: httpx.AsyncClient,
) -> None:
    refused = [
        await guarded_metrics.get("/metrics"),
        await guarded_metrics.get("/metrics", headers={"Authorization": "Bearer wrong"}),
        await guarded_metrics.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}
        ),
        await guarded_metrics.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}),
    ]
    allowed = await guarded_metrics.get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )

    assert [r.status_code for r in refused] == [401] * 4
    for response in refused:
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "taskservice_http_requests" not in response.text
    assert allowed.status_code == 200
    assert "taskservice_http_requests_total" in allowed.text


@pytest.mark.parametrize("path", ["/api/nobody/tasks", "/healthz", "/sign-in", "/nowhere"])
async def test_responses_over_https_carry_hsts_and_over_http_do_not(
    app: Starlette, path: str
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://service.example") as https,
        httpx.AsyncClient(transport=transport, base_url="http://service.example") as http,
    ):
        secure = await https.get(path)
        plain = await http.get(path)

    assert secure.headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in plain.headers


async def test_hsts_follows_the_scheme_a_listed_proxy_forwards(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    settings = settings_for(migrated_postgres_url, tmp_path, forwarded_allow_ips="10.0.0.0/24")
    config = uvicorn.Config(build_app(settings), log_config=None, **proxy_options(settings))
    config.load()

    async def healthz(peer: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})

    assert "strict-transport-security" in (await healthz("10.0.0.2")).headers
    assert "strict-transport-security" not in (await healthz("198.51.100.4")).headers
