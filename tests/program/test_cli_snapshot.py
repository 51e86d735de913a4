"""``photoseek snapshot``: the whole command and the download against a loopback HTTP server playing
Qdrant's REST API, and the embedded store's answer."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from photoseek.cli import main
from photoseek.config.settings import QdrantSettings
from photoseek.errors import StoreError, StoreUnavailable
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.server import ServerStore
from photoseek.retrieval.store.snapshots import download_snapshot

SERVER_URL_VAR = "PHOTOSEEK_TEST_QDRANT_URL"
BODY = os.urandom(3 * 1024 * 1024 + 17)  # a few chunks and a ragged end
NAME = "photos-1234-2026-01-01-00-00-00.snapshot"
KEY = "s3cret"


class SnapshotServer(ThreadingHTTPServer):
    """Qdrant's snapshot API for collection ``photos``, to requests that carry the API key.

    It says whether the collection exists, "creates" snapshot NAME of BODY, serves it at the
    download path and deletes it.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str | None]] = []  # downloads: (path, api key)
        self.calls: list[tuple[str, str]] = []  # every request: (method, path)
        self.collection_exists = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: SnapshotServer

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        path = urlsplit(self.path).path
        self.server.calls.append(("GET", path))
        if path == "/collections/photos/exists" and self._authorised():
            self._result({"exists": self.server.collection_exists})
            return
        self.server.requests.append((self.path, self.headers.get("api-key")))
        if not self._authorised():
            return
        if self.path != f"/collections/photos/snapshots/{NAME}":
            self._reply(404, b'{"status":{"error":"Snapshot not found"}}')
        else:
            self._reply(200, BODY)

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        self.server.calls.append(("POST", path))
        if self._authorised() and path == "/collections/photos/snapshots":
            checksum = hashlib.sha256(BODY).hexdigest()
            made = "2026-01-01T00:00:00"
            self._result({"name": NAME, "creation_time": made, "size": len(BODY), "checksum": checksum})

    def do_DELETE(self) -> None:  # noqa: N802 - the http.server naming
        path = urlsplit(self.path).path
        self.server.calls.append(("DELETE", path))
        if self._authorised():
            self._result(True)

    def _authorised(self) -> bool:
        if self.headers.get("api-key") == KEY:
            return True
        self._reply(403, b'{"status":{"error":"Invalid api-key"}}')
        return False

    def _result(self, result: object) -> None:
        self._reply(200, json.dumps({"result": result, "status": "ok", "time": 0.0}).encode())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def snapshot_server() -> Iterator[SnapshotServer]:
    server = SnapshotServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_downloads_checks_and_names_the_file(snapshot_server: SnapshotServer, tmp_path: Path) -> None:
    target = tmp_path / "backups" / NAME
    checksum = hashlib.sha256(BODY).hexdigest()
    got = download_snapshot(
        snapshot_server.url, "photos", NAME, target, api_key=KEY, size=len(BODY), checksum=checksum
    )
    assert got == target and target.read_bytes() == BODY
    assert snapshot_server.requests == [(f"/collections/photos/snapshots/{NAME}", KEY)]
    assert list(target.parent.iterdir()) == [target], "no partial file is left behind"


def test_a_corrupt_download_leaves_no_file(snapshot_server: SnapshotServer, tmp_path: Path) -> None:
    target = tmp_path / NAME
    with pytest.raises(StoreError, match="SHA-256"):
        download_snapshot(snapshot_server.url, "photos", NAME, target, api_key=KEY, checksum="0" * 64)
    with pytest.raises(StoreError, match="announced 5"):
        download_snapshot(snapshot_server.url, "photos", NAME, target, api_key=KEY, size=5)
    assert list(tmp_path.iterdir()) == []


def test_refusals_and_an_unreachable_server_are_store_errors(snapshot_server: SnapshotServer, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="HTTP 403"):
        download_snapshot(snapshot_server.url, "photos", NAME, tmp_path / "x", api_key="wrong")
    with pytest.raises(StoreError, match="HTTP 404"):
        download_snapshot(snapshot_server.url, "photos", "nope.snapshot", tmp_path / "x", api_key=KEY)
    with pytest.raises(StoreUnavailable):
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        download_snapshot("http://127.0.0.1:9", "photos", NAME, tmp_path / "x", timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_embedded_store_gets_a_clear_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "PHOTOSEEK_QDRANT__URL" in err and "photoseek migrate" in err


@pytest.fixture
def configured(snapshot_server: SnapshotServer, monkeypatch: pytest.MonkeyPatch) -> SnapshotServer:
    """The command's settings point at ``snapshot_server`` over REST, with its API key."""
    monkeypatch.setenv("PHOTOSEEK_QDRANT__URL", snapshot_server.url)
    monkeypatch.setenv("PHOTOSEEK_QDRANT__API_KEY", KEY)
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PREFER_GRPC", "false")
    monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", "photos")
    monkeypatch.setenv("PHOTOSEEK_QDRANT__RETRIES", "0")
    return snapshot_server


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_the_command_creates_downloads_and_deletes_the_snapshot(
    configured: SnapshotServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["snapshot", "--output", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"file": str(tmp_path / NAME), "name": NAME, "size": len(BODY), "kept": False}
    assert (tmp_path / NAME).read_bytes() == BODY
    assert configured.calls == [
        ("GET", "/collections/photos/exists"),
        ("POST", "/collections/photos/snapshots"),
        ("GET", f"/collections/photos/snapshots/{NAME}"),
        ("DELETE", f"/collections/photos/snapshots/{NAME}"),
    ]


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_keep_leaves_the_snapshot_and_a_missing_collection_is_said(
    configured: SnapshotServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "backup.snapshot"
    assert main(["snapshot", "--output", str(target), "--keep"]) == 0
    assert target.read_bytes() == BODY and "written to" in capsys.readouterr().out
    assert ("DELETE", f"/collections/photos/snapshots/{NAME}") not in configured.calls
    configured.collection_exists = False
    configured.calls.clear()
    assert main(["snapshot", "--output", str(tmp_path)]) == 1
    assert "collection 'photos' does not exist in the server store" in capsys.readouterr().err
    assert configured.calls == [("GET", "/collections/photos/exists")], "no snapshot of nothing"


@pytest.mark.server
def test_snapshot_of_a_real_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = os.environ[SERVER_URL_VAR]
    collection = f"t{uuid.uuid4().hex[:10]}_snap"
    store = ServerStore(QdrantSettings(url=url, collection=collection))
    try:
        store.ensure_collection(4)
        store.upsert([point_id("a"), point_id("b")], np.eye(2, 4, dtype=np.float32), [{"n": 1}, {"n": 2}])
        monkeypatch.setenv("PHOTOSEEK_QDRANT__URL", url)
        monkeypatch.setenv("PHOTOSEEK_QDRANT__COLLECTION", collection)
        assert main(["snapshot", "--output", str(tmp_path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        written = Path(report["file"])
        assert written.parent == tmp_path and written.stat().st_size == report["size"] > 0
        names = [s.name for s in store.client.list_snapshots(collection)]
        assert report["name"] not in names, "the server copy is deleted unless --keep"
    finally:
        store.delete_collection()
        store.close()
