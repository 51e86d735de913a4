"""Prometheus metrics: requests and latency per route, errors by type, time in the encoder and the store."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PROMETHEUS_CONTENT_TYPE", "Metrics", "MetricsMiddleware"]

# Search latencies: from a cached text query on the embedded store (~1 ms) to a slow server.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's metrics, in a registry of its own (so that two apps in one process never clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "photoseek_http_requests", "HTTP requests by route, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "photoseek_http_request_seconds", "HTTP request latency by route",
            ["route"], buckets=_BUCKETS, registry=self.registry,
        )
        self.errors = Counter(
            "photoseek_http_errors", "error answers by error type", ["type"], registry=self.registry,
        )
        self.encoder = Histogram(
            "photoseek_encoder_seconds", "time in the encoder by input kind",
            ["kind"], buckets=_BUCKETS, registry=self.registry,
        )
        self.store = Histogram(
            "photoseek_store_seconds", "time in the vector store by operation",
            ["operation"], buckets=_BUCKETS, registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


def _route_name(scope: Scope) -> str:
    """The matched route's path template (``/v1/photos/{photo_id:path}``), so that ids never become labels."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task, unlike ``BaseHTTPMiddleware``) that counts and times requests."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_status(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_name(scope)
            self.metrics.requests.labels(route, scope.get("method", ""), str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
            error_type = scope.get("state", {}).get("error_type")
            if error_type:
                self.metrics.errors.labels(error_type).inc()


async def timed(histogram: Histogram, label: str, call: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``call()`` and record how long it took under ``label``."""
    start = time.perf_counter()
    try:
        return await call()
    finally:
        histogram.labels(label).observe(time.perf_counter() - start)
