"""``create_app``: the FastAPI application of ``photoseek serve`` (API, health, metrics and the page)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from photoseek import __version__
from photoseek.config.settings import Settings, load_settings
from photoseek.errors import CollectionMismatch, ModelError, PhotoseekError
from photoseek.serve import errors
from photoseek.serve.limits import ApiKeyMiddleware, BodyLimitMiddleware
from photoseek.serve.metrics import PROMETHEUS_CONTENT_TYPE, Metrics, MetricsMiddleware
from photoseek.serve.routes import router
from photoseek.serve.service import SearchService

if TYPE_CHECKING:
    from photoseek.retrieval.encoder import Encoder

log = logging.getLogger(__name__)

STATIC = resources.files("photoseek.serve") / "static"
# Seconds /readyz waits for the collection check before it answers "not ready".
READY_TIMEOUT = 2.0
# Room for the JSON or multipart framing around an upload of the largest size (base64 adds a third).
BODY_OVERHEAD = 64 * 1024


def create_app(settings: Settings | None = None, *, encoder: Encoder | None = None) -> FastAPI:
    """The service for ``settings`` (``PHOTOSEEK_*`` variables when None).

    The model loads and the store opens when the app starts (its lifespan). A collection
    built by another model stops the start with the library's message; a missing collection
    or an unreachable store does not: the service answers 503 with Retry-After until it is there.

    Args:
        settings: all settings; ``settings.serve`` configures the service.
        encoder: an encoder already loaded (otherwise loaded from ``settings.model`` at start).
    """
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await asyncio.to_thread(SearchService.open, settings, metrics, encoder)
        try:
            await service.search.check()
        except (CollectionMismatch, ModelError):
            await service.close()
            raise
        except PhotoseekError as exc:  # missing collection, store down: serve 503 until it is there
            log.warning("not ready yet: %s", exc)
        app.state.service = service
        try:
            yield
        finally:
            app.state.service = None
            await service.close()

    app = FastAPI(
        title="photoseek",
        version=__version__,
        description="Search a photo collection by text, by example image or by similarity (CLIP + Qdrant).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service = None
    app.include_router(router)
    app.add_exception_handler(errors.ApiError, errors.handle_api_error)
    app.add_exception_handler(PhotoseekError, errors.handle_photoseek_error)
    app.add_exception_handler(RequestValidationError, errors.handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.handle_http_error)
    app.add_exception_handler(Exception, errors.handle_unexpected)
    _add_health(app, metrics)
    _add_page(app)

    serve = settings.serve
    body_cap = serve.max_upload_bytes * 4 // 3 + BODY_OVERHEAD
    app.add_middleware(BodyLimitMiddleware, max_bytes=body_cap)
    if serve.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=serve.api_key.get_secret_value())
    origins = serve.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"], max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _add_health(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/healthz", include_in_schema=True, summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Model loaded, collection reachable, model identity checked")
    async def readyz(request: Request) -> JSONResponse:
        service: SearchService | None = request.app.state.service
        if service is None:
            return errors.error_response(errors.ApiError(503, "NotReady", "the model is loading",
                                                         headers={"Retry-After": "5"}))
        try:
            await asyncio.wait_for(service.search.check(), READY_TIMEOUT)
        except TimeoutError:
            return errors.error_response(errors.ApiError(503, "Timeout", "the store did not answer in time",
                                                         headers={"Retry-After": "5"}))
        except PhotoseekError as exc:
            return errors.error_response(errors.from_photoseek(exc))
        return JSONResponse({"status": "ready", "collection": service.search.store.collection})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)


def _add_page(app: FastAPI) -> None:
    index = STATIC / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(str(index), media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")


def app_from_environment() -> FastAPI:
    """The app for ``PHOTOSEEK_*`` variables: the factory each uvicorn worker calls when ``--workers`` > 1."""
    return create_app()
