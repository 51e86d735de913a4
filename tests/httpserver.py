"""A real HTTP server on 127.0.0.1 that serves images and misbehaves on purpose, per path.

Tests start it with the ``http_server`` fixture (tests/ingest/conftest.py); benchmarks run it
in a child process (``python tests/httpserver.py --dir FOLDER --latency 0.05``). Each path
gets a list of replies used in turn, the last one repeating: ``[Reply(500), Reply(200, jpeg)]``
fails once, then succeeds.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit


@dataclass
class Reply:
    """An ordinary answer. ``no_length`` sends no Content-Length and closes after the body."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "image/jpeg"
    headers: dict[str, str] = field(default_factory=dict)
    no_length: bool = False


@dataclass
class Stall:
    """Send the headers of a 200 answer, then say nothing for ``seconds``."""

    seconds: float = 5.0
    declared_length: int = 1000


@dataclass
class Reset:
    """Drop the connection (RST) without answering."""


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect to ``location``."""
    return Reply(status, b"", None, {"Location": location})


Behaviour = Reply | Stall | Reset


class LoopbackServer:
    """A threaded HTTP/1.1 server on a random port of 127.0.0.1 with per-path behaviours."""

    def __init__(self, latency: float = 0.0) -> None:
        """Args: latency: seconds added before every answer (a far-away CDN)."""
        self.latency = latency
        self.routes: dict[str, list[Behaviour]] = {}
        self.folders: dict[str, tuple[Path, str]] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The full URL of ``path``."""
        return self.base_url + path

    def add(self, path: str, *behaviours: Behaviour) -> str:
        """Answer ``path`` with ``behaviours`` in turn (the last one repeats); returns its URL."""
        self.routes[path] = list(behaviours)
        return self.url(path)

    def image(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` at ``path``; returns its URL."""
        return self.add(path, Reply(200, data, content_type))

    def serve_dir(self, prefix: str, folder: Path, suffix: str = "") -> None:
        """Serve ``folder/<name><suffix>`` at ``<prefix><name>`` (404 when absent)."""
        self.folders[prefix] = (Path(folder), suffix)

    def _next(self, path: str) -> Behaviour:
        with self._lock:
            self.hits[path] += 1
            turn = self.hits[path]
            behaviours = self.routes.get(path)
        if behaviours:
            return behaviours[min(turn, len(behaviours)) - 1]
        for prefix, (folder, suffix) in self.folders.items():
            if path.startswith(prefix):
                name = path[len(prefix):]
                file = folder / f"{name}{suffix}"
                if "/" not in name and file.is_file():
                    return Reply(200, file.read_bytes(), "image/jpeg")
        return Reply(404, b"not found", "text/plain")

    def start(self) -> LoopbackServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stalled handlers must not hold up the test's teardown
    request_queue_size = 512
    owner: LoopbackServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet: clients dropping connections (and Reset) are what this server is for."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per answer on a keep-alive connection).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        behaviour = owner._next(urlsplit(self.path).path)
        if owner.latency:
            time.sleep(owner.latency)
        if isinstance(behaviour, Reset):
            # Linger 0 makes close() send a RST instead of an orderly FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if isinstance(behaviour, Stall):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(behaviour.declared_length))
            self.end_headers()
            self.wfile.flush()
            time.sleep(behaviour.seconds)
            self.close_connection = True
            return
        self.send_response(behaviour.status)
        if behaviour.content_type:
            self.send_header("Content-Type", behaviour.content_type)
        for name, value in behaviour.headers.items():
            self.send_header(name, value)
        if behaviour.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(behaviour.body)))
        self.end_headers()
        try:
            self.wfile.write(behaviour.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a body over its size limit)


def main() -> None:
    """Serve a folder of images until killed; prints the port on the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="serve <dir>/<name> at /img/<name>")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    server = LoopbackServer(latency=args.latency)
    server.serve_dir("/img/", args.dir)
    print(server.port, flush=True)
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
