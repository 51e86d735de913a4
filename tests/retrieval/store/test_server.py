"""The server store's retries: transient failures are retried, then StoreUnavailable; others are not.

A real HTTP server on 127.0.0.1 (tests/httpserver.py) plays a Qdrant server that fails on
purpose; a closed port plays one that is down.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import warnings

import grpc
import httpx
import pytest
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from httpserver import LoopbackServer, Reply
from photoseek.config.settings import QdrantSettings
from photoseek.errors import CollectionNotFound, StoreError, StoreUnavailable
from photoseek.retrieval.store import EdgeStore, ServerStore, open_store
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
