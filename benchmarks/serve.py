"""``photoseek serve`` against the library in-process: the cost of the HTTP layer, in one run.

The same text queries (every one encoded: the query cache is off on both sides) go

- through ``ImageSearch.search`` in this process, from 1 thread and from 16;
- through ``POST /v1/search`` of a ``photoseek serve`` process on the same collection, from 1
  client and from 16 keep-alive clients, then from 64 (p50 / p99);

on a 25,000-photo, 512-d Qdrant Edge collection with a full-size ViT-B/32 text tower (random
weights, the cost of real ones). Printed: throughput of each, the HTTP / library ratio at 16,
the latency HTTP adds at p50 (to a text query, and to a vector query that skips the encoder),
p50 / p99 at 64 clients, and the serving process's peak memory.

Targets (2 cores): HTTP throughput >= 0.8x the library's at 16 clients; added p50 <= 3 ms.

Run: ``python benchmarks/serve.py [--points 25000] [--queries 400] [--clients 16] [--wide 64]``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def texts(count: int, salt: str) -> list[str]:
    """Distinct queries of a few words the benchmark model's tokenizer keeps whole."""
    words = _load("encoder").QUERY_WORDS
    words = words.split() if isinstance(words, str) else list(words)
    rng = np.random.default_rng(zlib.crc32(salt.encode()))
    return [" ".join(rng.choice(words, 6)) + f" number {i}" for i in range(count)]


def run_clients(
    clients: int, queries: list[Any], ask: Callable[[Any, Any], None], open_client: Callable[[], Any]
) -> tuple[float, np.ndarray]:
    """Queries/s and per-query milliseconds with ``clients`` threads sharing the queries."""
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = [0]
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        client = open_client()
        mine: list[float] = []
        barrier.wait()
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(queries):
                break
            started = time.perf_counter()
            ask(client, queries[index])
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(queries) / elapsed, np.asarray(latencies)


def http_client(port: int) -> Callable[[], http.client.HTTPConnection]:
    return lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def http_ask(connection: http.client.HTTPConnection, text: str) -> None:
    body = json.dumps({"text": text, "limit": 10})
    connection.request("POST", "/v1/search", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {payload[:200]!r}")


def http_ask_vector(connection: http.client.HTTPConnection, vector: Any) -> None:
    body = json.dumps({"vector": [float(x) for x in vector], "limit": 10})
    connection.request("POST", "/v1/search", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {payload[:200]!r}")


def query_vectors(count: int, dim: int) -> list[Any]:
    """Unit vectors for the queries that skip the encoder: what the HTTP layer costs alone."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def line(name: str, rate: float, ms: np.ndarray) -> None:
    print(f"  {name:<34} {rate:8.1f} q/s   p50 {np.percentile(ms, 50):8.2f} ms   p99 {np.percentile(ms, 99):8.2f} ms")


def main(argv: list[str] | None = None) -> int:
    """Build the collection, measure the library, then the service, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=25_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=400, help="queries per concurrent measurement")
    parser.add_argument("--serial", type=int, default=100, help="queries of the one-client measurements")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--wide", type=int, default=64, help="clients of the p50 / p99 measurement")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    search_bench = _load("search")
    encoder_bench = _load("encoder")

    from photoseek.config.settings import ModelSettings, QdrantSettings
    from photoseek.retrieval.encoder import ClipEncoder
    from photoseek.retrieval.identity import record_identity
    from photoseek.retrieval.search import ImageSearch
    from photoseek.retrieval.store.edge import EdgeStore

    model_dir = str(encoder_bench.build_model(encoder_bench.MODEL_DIR))
    model = ModelSettings(image=model_dir, text=model_dir, device="cpu", query_cache_size=0)  # type: ignore[call-arg]
    print(f"collection: {args.points} points, {args.dim}-d; {os.cpu_count()} CPU cores; query cache off")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "qdrant"
        settings = QdrantSettings(path=data, collection="bench")  # type: ignore[call-arg]
        encoder = ClipEncoder.from_settings(model)
        store = EdgeStore(settings)
        ids, vectors, payloads = search_bench.make_collection(args.points, args.dim)
        search_bench.fill(store, ids, vectors, payloads)
        store.optimize()
        record_identity(store, encoder)

        print("library (ImageSearch.search in this process):")
        search = ImageSearch(store, encoder)
        for text in texts(4, "warm"):
            search.search(text)
        def ask(s: ImageSearch, t: str) -> None:
            s.search(t, limit=10)

        lib_one_rate, lib_one = run_clients(1, texts(args.serial, "lib1"), ask, lambda: search)
        line("1 thread", lib_one_rate, lib_one)
        lib_rate, lib_ms = run_clients(args.clients, texts(args.queries, "lib16"), ask, lambda: search)
        line(f"{args.clients} threads", lib_rate, lib_ms)
        probes = query_vectors(args.serial, args.dim)
        lib_vec_rate, lib_vec = run_clients(1, probes, lambda s, v: s.search_by_vector(v, limit=10), lambda: search)
        line("1 thread, vector (no encoder)", lib_vec_rate, lib_vec)
        store.close()

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOSEEK_")}
        env.update({
            "PHOTOSEEK_QDRANT__PATH": str(data), "PHOTOSEEK_QDRANT__COLLECTION": "bench",
            "PHOTOSEEK_MODEL__IMAGE": model_dir, "PHOTOSEEK_MODEL__TEXT": model_dir,
            "PHOTOSEEK_MODEL__DEVICE": "cpu", "PHOTOSEEK_MODEL__QUERY_CACHE_SIZE": "0",
            "PHOTOSEEK_SERVE__PORT": str(port),
        })
        # The access log goes to a file: a pipe nobody reads would stall the server once full.
        log_path = Path(folder) / "serve.log"
        log_file = log_path.open("wb")
        server = subprocess.Popen([sys.executable, "-m", "photoseek", "serve"], env=env,
                                  stdout=log_file, stderr=log_file)
        try:
            deadline = time.monotonic() + 300
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"photoseek serve exited: {log_path.read_text()[-2000:]}")
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    probe.request("GET", "/readyz")
                    if probe.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("photoseek serve did not become ready")
                time.sleep(0.5)
            print(f"HTTP (POST /v1/search, keep-alive clients, photoseek serve pid {server.pid}):")
            warm = http_client(port)()
            for text in texts(4, "warm-http"):
                http_ask(warm, text)
            http_one_rate, http_one = run_clients(1, texts(args.serial, "http1"), http_ask, http_client(port))
            line("1 client", http_one_rate, http_one)
            http_vec_rate, http_vec = run_clients(1, probes, http_ask_vector, http_client(port))
            line("1 client, vector (no encoder)", http_vec_rate, http_vec)
            http_rate, http_ms = run_clients(args.clients, texts(args.queries, "http16"), http_ask, http_client(port))
            line(f"{args.clients} clients", http_rate, http_ms)
            wide_rate, wide_ms = run_clients(args.wide, texts(args.queries, "http64"), http_ask, http_client(port))
            line(f"{args.wide} clients", wide_rate, wide_ms)
            peak = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log_file.close()
    ratio = http_rate / lib_rate
    added = float(np.percentile(http_one, 50) - np.percentile(lib_one, 50))
    added_alone = float(np.percentile(http_vec, 50) - np.percentile(lib_vec, 50))
    added_16 = float(np.percentile(http_ms, 50) - np.percentile(lib_ms, 50))
    print(f"serving process peak memory (VmHWM): {peak:.0f} MiB")
    print("targets:")
    for ok, text in (
        (ratio >= 0.8, f"HTTP throughput {ratio:.2f}x the library's at {args.clients} clients (>= 0.8x)"),
        (added <= 3.0, f"HTTP adds {added:.2f} ms at p50 with one client (<= 3 ms)"),
    ):
        print(f"  [{'ok' if ok else 'MISS'}] {text}")
    print(f"  HTTP adds {added_alone:.2f} ms at p50 to a vector query (the HTTP layer alone); "
          f"{added_16:.1f} ms at p50 with {args.clients} clients")
    print(f"  {args.wide} clients: p50 {np.percentile(wide_ms, 50):.1f} ms, p99 {np.percentile(wide_ms, 99):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
