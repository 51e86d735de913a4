"""The embedded store under load: writes, the index build, and searches from many threads.

One run, one collection of random unit vectors with realistic photo payloads:

- upsert points/s: Qdrant Edge against qdrant-client local mode (the same batches);
- query p50 on Edge before and after ``optimize()`` (brute force over an unindexed tail
  against HNSW), and how long the index build took;
- queries/s from 1, 2 and 4 threads, each with its own ``EdgeStore`` on the one shared shard
  (the process-wide handle), against a single thread.

Run: ``python benchmarks/store.py [--points 25000] [--dim 512] [--queries 400] [--local-points 5000]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient, models

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "retrieval" / "store"))

from conftest import make_photo_points  # noqa: E402 - the tests' realistic payloads
from photoseek.config.settings import QdrantSettings  # noqa: E402
from photoseek.retrieval.store import EdgeStore, ServerStore  # noqa: E402

BATCH = 256
FILTER = models.Filter(
    must=[
        models.FieldCondition(key="orientation", match=models.MatchValue(value="landscape")),
        models.FieldCondition(key="location.country", match=models.MatchAny(any=["France", "Japan"])),
    ]
)


def upsert_rate(store: EdgeStore | ServerStore, points, limit: int) -> float:
    """Points per second for ``limit`` points written in batches of BATCH."""
    started = time.perf_counter()
    for i in range(0, limit, BATCH):
        j = min(i + BATCH, limit)
        store.upsert(points.ids[i:j], points.vectors[i:j], points.payloads[i:j])
    return limit / (time.perf_counter() - started)


def p50_ms(store: EdgeStore, queries: np.ndarray, flt: models.Filter | None) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        store.query(q, limit=10, filter=flt)
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def threaded_rate(settings: QdrantSettings, queries: np.ndarray, threads: int) -> float:
    """Queries per second when ``threads`` threads split ``queries``, each with its own store."""
    chunks = np.array_split(queries, threads)
    barrier = threading.Barrier(threads + 1)

    def work(chunk: np.ndarray) -> None:
        store = EdgeStore(settings)
        store.count()  # borrow the shared shard before the clock starts
        barrier.wait()
        for q in chunk:
            store.query(q, limit=10, filter=FILTER)
        store.close()

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    return len(queries) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=25_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--local-points", type=int, default=5_000, help="local mode is slow: fewer points")
    args = parser.parse_args()

    points = make_photo_points(args.points, args.dim)
    queries = np.random.default_rng(99).standard_normal((args.queries, args.dim)).astype(np.float32)
    folder = Path(tempfile.mkdtemp(prefix="photoseek-bench-store-"))
    settings = QdrantSettings(path=folder, collection="bench")
    print(f"{args.points} points of {args.dim}-d, {os.cpu_count()} CPUs")
    try:
        edge = EdgeStore(settings, auto_optimize_tail=10**9)  # the build is timed on its own below
        edge.ensure_collection(args.dim)
        edge_rate = upsert_rate(edge, points, args.points)

        local = ServerStore(QdrantSettings(collection="bench"), client=QdrantClient(":memory:"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local.ensure_collection(args.dim)
            local_rate = upsert_rate(local, points, min(args.local_points, args.points))
        print(
            f"upsert        edge {edge_rate:9.0f} points/s   local mode {local_rate:9.0f} points/s   "
            f"ratio {edge_rate / local_rate:.1f}x"
        )

        unindexed = p50_ms(edge, queries[:100], FILTER)
        started = time.perf_counter()
        edge.optimize()
        build = time.perf_counter() - started
        indexed = p50_ms(edge, queries[:100], FILTER)
        info = edge.info()
        print(f"index build   {build:.1f} s ({info.indexed_vectors_count}/{info.points_count} vectors indexed)")
        print(
            f"filtered p50  unindexed {unindexed:.2f} ms   indexed {indexed:.2f} ms   ratio {unindexed / indexed:.1f}x"
        )

        single = threaded_rate(settings, queries, 1)
        for threads in (2, 4):
            rate = threaded_rate(settings, queries, threads)
            print(
                f"threads {threads}     {rate:8.0f} queries/s against {single:8.0f} with 1 thread   "
                f"ratio {rate / single:.2f}x"
            )
        edge.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
