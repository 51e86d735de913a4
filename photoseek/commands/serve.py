"""``photoseek serve``: the HTTP search API and the search page, on uvicorn."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the search API and the search page over HTTP",
        description="Serve the collection over HTTP: a JSON search API under /v1 (OpenAPI at /docs), "
        "/healthz, /readyz, /metrics, and a search page at /. Settings: PHOTOSEEK_SERVE__* "
        "(API_KEY, CORS_ORIGINS, MAX_UPLOAD_BYTES, ENCODE_CONCURRENCY, REQUEST_TIMEOUT, PHOTO_FOLDERS).",
    )
    parser.add_argument("--host", help="address to listen on (env PHOTOSEEK_SERVE__HOST; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env PHOTOSEEK_SERVE__PORT; default 8000)")
    parser.add_argument(
        "--workers", type=int, default=1,
        help="serving processes (more than 1 needs a Qdrant server: the embedded store is one process at a time)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the collection against the model, then serve until interrupted."""
    import uvicorn

    from photoseek.config import load_settings
    from photoseek.errors import ConfigError

    base = load_settings()
    serve = base.serve.model_dump()
    if args.host is not None:
        serve["host"] = args.host
    if args.port is not None:
        serve["port"] = args.port
    settings = load_settings(serve=serve)
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1 (got {args.workers})")
    if args.workers > 1 and settings.qdrant.embedded:
        raise ConfigError(
            f"--workers {args.workers}: the embedded store is one process at a time; run one worker, "
            "or set PHOTOSEEK_QDRANT__URL to a Qdrant server to run several"
        )
    host, port = settings.serve.host, settings.serve.port
    if host not in ("127.0.0.1", "localhost", "::1") and settings.serve.api_key is None:
        log.warning("listening on %s without an API key: anyone who can reach it can search "
                    "(set PHOTOSEEK_SERVE__API_KEY)", host)
    common: dict[str, Any] = dict(host=host, port=port, log_level="info", proxy_headers=False)
    if args.workers > 1:
        # Each worker process builds its own app (and model) from the same PHOTOSEEK_* variables.
        import os

        for key, value in (("PHOTOSEEK_SERVE__HOST", host), ("PHOTOSEEK_SERVE__PORT", str(port))):
            os.environ[key] = value
        uvicorn.run("photoseek.serve.app:app_from_environment", factory=True, workers=args.workers, **common)
        return 0
    encoder = _checked_encoder(settings)
    from photoseek.serve import create_app

    app = create_app(settings, encoder=encoder)
    print(f"photoseek: serving {settings.qdrant.collection!r} on http://{host}:{port}/ (API docs at /docs)",
          flush=True)
    uvicorn.run(app, **common)
    return 0


def _checked_encoder(settings: Any) -> Any:
    """Load the model and check the collection with it before listening: another model's collection
    stops the start with the library's message; a missing collection only warns (the service answers 503)."""
    from photoseek.errors import CollectionNotFound, StoreUnavailable
    from photoseek.retrieval import ImageSearch
    from photoseek.retrieval.encoder import ClipEncoder
    from photoseek.retrieval.store import open_store

    encoder = ClipEncoder.from_settings(settings.model)
    store = open_store(settings.qdrant)
    try:
        ImageSearch(
            store, encoder, retrieval=settings.retrieval,
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
        ).check()
    except (CollectionNotFound, StoreUnavailable) as exc:
        log.warning("serving anyway, answering 503 until this is fixed: %s", exc)
    finally:
        store.close()
    return encoder
