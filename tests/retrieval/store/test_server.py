"""The server store's retries: transient failures are retried, then StoreUnavailable; others are not.

A real HTTP server on 127.0.0.1 (tests/httpserver.py) plays a Qdrant server that fails on
purpose; a closed port plays one that is down.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from httpserver import LoopbackServer, Reply
from photoseek.config.settings import QdrantSettings
from photoseek.errors import CollectionNotFound, StoreError, StoreUnavailable
from photoseek.retrieval.store import EdgeStore, ServerStore, VectorStore, open_store
from photoseek.retrieval.store.async_server import AsyncServerStore
from photoseek.retrieval.store.retry import is_transient

EXISTS_PATH = "/collections/photos/exists"
EXISTS_BODY = json.dumps({"result": {"exists": True}, "status": "ok", "time": 0.0}).encode()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rest_store(url: str, retries: int = 1, **overrides: object) -> ServerStore:
    values: dict[str, object] = {
        "url": url,
        "collection": "photos",
        "retries": retries,
        "prefer_grpc": False,
        "timeout": 5,
    }
    values.update(overrides)
    return ServerStore(QdrantSettings(**values))  # type: ignore[arg-type]


def json_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, "application/json", headers or {})


def error_body(message: str) -> bytes:
    return json.dumps({"status": {"error": message}, "time": 0.0}).encode()


@pytest.fixture
def qdrant_double():
    with LoopbackServer() as server:
        yield server


def test_a_server_that_is_down_raises_store_unavailable_naming_the_url():
    url = f"http://127.0.0.1:{closed_port()}"
    store = rest_store(url, retries=1)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.collection_exists()
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert url in message and "2 attempt(s)" in message and "PHOTOSEEK_QDRANT__URL" in message
    assert len(message.splitlines()) == 1
    store.close()


def test_a_server_that_is_down_over_grpc_raises_store_unavailable():
    port = closed_port()
    store = rest_store(f"http://127.0.0.1:{port}", retries=1, prefer_grpc=True, grpc_port=port, timeout=2)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="127.0.0.1"):
        store.collection_exists()
    assert time.monotonic() - started < 10
    store.close()


def test_the_api_key_never_shows_in_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "API key is used with an insecure connection"
        store = rest_store(f"http://127.0.0.1:{closed_port()}", retries=0, api_key="s3cret-key-123")
        with pytest.raises(StoreUnavailable) as caught:
            store.collection_exists()
    assert "s3cret" not in str(caught.value) and "s3cret" not in repr(caught.value.__cause__)
    store.close()


def test_transient_errors_are_retried_until_the_server_answers(qdrant_double):
    qdrant_double.add(
        EXISTS_PATH, Reply(503, b"busy", "text/plain"), Reply(502, b"", "text/plain"), json_reply(200, EXISTS_BODY)
    )
    store = rest_store(qdrant_double.base_url, retries=3)
    assert store.collection_exists() is True
    assert qdrant_double.hits[EXISTS_PATH] == 3
    store.close()


def test_retries_run_out_into_store_unavailable(qdrant_double):
    qdrant_double.add(EXISTS_PATH, Reply(503, b"busy", "text/plain"))
    store = rest_store(qdrant_double.base_url, retries=2)
    with pytest.raises(StoreUnavailable, match=r"3 attempt\(s\): HTTP 503"):
        store.collection_exists()
    assert qdrant_double.hits[EXISTS_PATH] == 3
    store.close()


def test_a_429_waits_as_long_as_retry_after_says(qdrant_double):
    qdrant_double.add(
        EXISTS_PATH,
        json_reply(429, b'{"status": {"error": "slow down"}}', {"Retry-After": "1"}),
        json_reply(200, EXISTS_BODY),
    )
    store = rest_store(qdrant_double.base_url, retries=2)
    started = time.monotonic()
    assert store.collection_exists() is True
    assert time.monotonic() - started >= 0.9
    store.close()


def test_the_asyncio_store_also_waits_as_long_as_retry_after_says(qdrant_double):
    from photoseek.retrieval.store.async_server import AsyncServerStore

    qdrant_double.add(
        EXISTS_PATH,
        json_reply(429, b'{"status": {"error": "slow down"}}', {"Retry-After": "1"}),
        json_reply(200, EXISTS_BODY),
    )
    settings = QdrantSettings(url=qdrant_double.base_url, collection="photos", retries=2, prefer_grpc=False, timeout=5)  # type: ignore[call-arg]

    async def exists() -> bool:
        store = AsyncServerStore(settings)
        try:
            return await store.collection_exists()
        finally:
            await store.close()

    started = time.monotonic()
    assert asyncio.run(exists()) is True
    assert time.monotonic() - started >= 0.9
    assert qdrant_double.hits[EXISTS_PATH] == 2


def test_a_client_error_is_not_retried(qdrant_double):
    body = json.dumps({"status": {"error": "Bad request: wrong input"}, "time": 0.0}).encode()
    qdrant_double.add(EXISTS_PATH, json_reply(400, body))
    store = rest_store(qdrant_double.base_url, retries=3)
    with pytest.raises(StoreError, match="HTTP 400: Bad request: wrong input") as caught:
        store.collection_exists()
    assert not isinstance(caught.value, StoreUnavailable)
    assert qdrant_double.hits[EXISTS_PATH] == 1
    store.close()


def test_a_missing_collection_on_the_server_is_collection_not_found(qdrant_double):
    body = json.dumps({"status": {"error": "Not found: Collection `photos` doesn't exist!"}, "time": 0.0}).encode()
    qdrant_double.add("/collections/photos", json_reply(404, body))
    store = rest_store(qdrant_double.base_url, retries=3)
    with pytest.raises(CollectionNotFound, match="photoseek ingest"):
        store.get_metadata()
    assert qdrant_double.hits["/collections/photos"] == 1
    store.close()


class _RpcError(grpc.RpcError):
    """A gRPC error as the client library raises it: its status in code()."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "details"


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (UnexpectedResponse(503, "Service Unavailable", b"", httpx.Headers()), True),
        (UnexpectedResponse(429, "Too Many Requests", b"", httpx.Headers()), True),
        (UnexpectedResponse(500, "Internal Server Error", b"", httpx.Headers()), True),
        (UnexpectedResponse(404, "Not Found", b"", httpx.Headers()), False),
        (UnexpectedResponse(400, "Bad Request", b"", httpx.Headers()), False),
        (UnexpectedResponse(401, "Unauthorized", b"", httpx.Headers()), False),
        (ResponseHandlingException(httpx.ConnectError("refused")), True),
        (ResponseHandlingException(ValueError("bad json")), False),
        (httpx.ReadTimeout("slow"), True),
        (ConnectionResetError(), True),
        (_RpcError(grpc.StatusCode.UNAVAILABLE), True),
        (_RpcError(grpc.StatusCode.DEADLINE_EXCEEDED), True),
        (_RpcError(grpc.StatusCode.RESOURCE_EXHAUSTED), True),
        (_RpcError(grpc.StatusCode.INVALID_ARGUMENT), False),
        (_RpcError(grpc.StatusCode.NOT_FOUND), False),
        (ValueError("Collection photos not found"), False),
    ],
)
def test_which_errors_are_transient(exc, transient):
    assert is_transient(exc) is transient


def test_open_store_picks_the_backend_from_the_url(tmp_path):
    embedded = open_store(QdrantSettings(path=tmp_path))
    assert isinstance(embedded, EdgeStore) and embedded.backend == "embedded"
    assert not (tmp_path / "unsplash").exists()  # nothing is created before it is asked for
    url = f"http://127.0.0.1:{closed_port()}"
    server = open_store(QdrantSettings(url=url))  # nothing is contacted yet either
    assert isinstance(server, ServerStore) and server.backend == "server" and server.location == url
    server.close()
    embedded.close()


# -- the sync and the asyncio server stores answer alike -------------------------------------


def run_on(kind: str, settings: QdrantSettings, method: str, *args: Any) -> Any:
    """Call ``method`` on a fresh sync or asyncio server store built from ``settings``."""
    if kind == "sync":
        with ServerStore(settings) as store:
            return getattr(store, method)(*args)

    async def call() -> Any:
        store = AsyncServerStore(settings)
        try:
            return await getattr(store, method)(*args)
        finally:
            await store.close()

    return asyncio.run(call())


KINDS = ["sync", "asyncio"]


class RestDouble(ThreadingHTTPServer):
    """A Qdrant REST API on 127.0.0.1 that answers each (method, path) with a fixed JSON reply."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RestHandler)
        self.replies: dict[tuple[str, str], tuple[int, bytes]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, path: str, result: Any, status: int = 200) -> None:
        self.replies[(method, path)] = (status, json.dumps({"result": result, "status": "ok", "time": 0.0}).encode())


class _RestHandler(BaseHTTPRequestHandler):
    server: RestDouble

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status, body = self.server.replies.get(
            (self.command, urlsplit(self.path).path), (404, b'{"status": {"error": "no route"}}')
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _reply  # noqa: N815 - the http.server naming

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def rest_double() -> Iterator[RestDouble]:
    server = RestDouble()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def collection_description(points_count: int) -> dict[str, Any]:
    """What GET /collections/photos answers for a 4-d cosine collection (taken from local mode)."""
    client = QdrantClient(":memory:")
    client.create_collection("photos", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE))
    description = client.get_collection("photos").model_copy(update={"points_count": points_count})
    client.close()
    return description.model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize("kind", KINDS)
def test_info_counts_points_exactly_on_both_stores(rest_double: RestDouble, kind: str) -> None:
    """The collection description's points_count is an estimate on a server; info() counts."""
    rest_double.answer("GET", "/collections/photos", collection_description(points_count=999))
    rest_double.answer("POST", "/collections/photos/points/count", {"count": 40})
    settings = QdrantSettings(url=rest_double.url, collection="photos", retries=0, prefer_grpc=False, timeout=5)  # type: ignore[call-arg]
    info = run_on(kind, settings, "info")
    assert info.points_count == 40
    assert (info.vector_size, info.distance, info.location) == (4, "Cosine", rest_double.url)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("reply", "missing"),
    [
        (json_reply(404, error_body("Not found: Collection `photos` doesn't exist!")), True),
        (Reply(404, b"404 page not found", "text/plain"), False),  # a proxy in front of the server
        (json_reply(404, error_body("Not found: Snapshot photos.snapshot")), False),
    ],
)
def test_only_a_missing_collection_is_collection_not_found_on_both_stores(
    qdrant_double: LoopbackServer, kind: str, reply: Reply, missing: bool
) -> None:
    qdrant_double.add("/collections/photos", reply)
    settings = QdrantSettings(url=qdrant_double.base_url, collection="photos", retries=1, prefer_grpc=False, timeout=5)  # type: ignore[call-arg]
    with pytest.raises(StoreError) as caught:
        run_on(kind, settings, "info")
    assert isinstance(caught.value, CollectionNotFound) is missing
    if missing:
        assert f"does not exist in the server store at {qdrant_double.base_url}" in str(caught.value)
    else:
        assert "HTTP 404" in str(caught.value)
    assert qdrant_double.hits["/collections/photos"] == 1, "a 404 is not retried"


@pytest.mark.parametrize("kind", KINDS)
def test_retries_run_out_alike_on_both_stores(qdrant_double: LoopbackServer, kind: str) -> None:
    qdrant_double.add(EXISTS_PATH, Reply(503, b"busy", "text/plain"))
    settings = QdrantSettings(url=qdrant_double.base_url, collection="photos", retries=1, prefer_grpc=False, timeout=5)  # type: ignore[call-arg]
    with pytest.raises(StoreUnavailable) as caught:
        run_on(kind, settings, "collection_exists")
    assert str(caught.value) == (
        f"Qdrant server {qdrant_double.base_url} unavailable after 2 attempt(s): HTTP 503 Service Unavailable; "
        "check that it runs and that PHOTOSEEK_QDRANT__URL points at it"
    )


def test_the_asyncio_store_has_every_member_of_the_protocol() -> None:
    """Every ``VectorStore`` method, as a coroutine (bar the one that asks nothing of the server)."""
    members = {name for name in dir(VectorStore) if not name.startswith("_")} | set(VectorStore.__annotations__)
    store = AsyncServerStore(QdrantSettings(collection="photos"), client=AsyncQdrantClient(":memory:"))  # type: ignore[call-arg]
    assert {"backend", "location", "create_snapshot", "unindexed_tail"} <= members
    for name in members:
        assert hasattr(store, name), name
        sync_member = getattr(VectorStore, name, None)
        if inspect.isfunction(sync_member) and name != "same_collection_as":
            assert inspect.iscoroutinefunction(getattr(store, name)), name
