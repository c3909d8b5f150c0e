"""Prometheus metrics: requests by route template and status, and database pool usage."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from domain.errors import InvalidToken

PoolStats = Callable[[], Mapping[str, float]]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    def __init__(self, stats: PoolStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "taskservice_db_pool_connections",
            "Database pool connections by state.",
            labels=["state"],
        )
        for state, value in self._stats().items():
            gauge.add_metric([state], value)
        yield gauge


class Metrics:
    """The service's metrics in a registry of its own (one per app, so tests never collide)."""

    def __init__(self, pool_stats: PoolStats | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "taskservice_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "taskservice_http_request_duration_seconds",
            "HTTP request latency by method, route template and status.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        if pool_stats is not None:
            self.registry.register(_PoolCollector(pool_stats))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            # labels() looks the child up under a lock on every call; route templates, methods
            # and statuses are few, so each child is looked up once.
            labels = (method, route, str(status))
            children = self._children[key] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def route(self, token: str | None = None) -> Route:
        """GET /metrics in the Prometheus text format; with `token`, for its bearer only."""
        expected = None if token is None else token.encode()

        async def metrics(request: Request) -> Response:
            if expected is not None:
                presented = parsing.bearer_token(request).encode()
                if not hmac.compare_digest(presented, expected):
                    raise InvalidToken()
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return Route("/metrics", metrics, methods=["GET"])
