"""The embedded store under load: writes, the index build, and searches from many threads.

One run, one collection of random unit vectors with realistic photo payloads:

- upsert points/s: Qdrant Edge against qdrant-client local mode (the same batches);
- query p50 on Edge before and after ``optimize()`` (brute force over an unindexed tail
  against HNSW), and how long the index build took;
- queries/s from 1, 2 and 4 threads, each with its own ``EdgeStore`` on the one shared shard
  (the process-wide handle), against a single thread.

The writer part (``--part writer``) measures upserts of full Unsplash-like payloads (every
field of retrieval/schema.py, ``--keywords`` keywords with their details, colours, a place,
a camera, a landmark) into a fresh collection with the schema's payload indexes, at each of
``--sizes``, in one run:

- raw Edge: ``EdgeShard.update`` of the same points, built as ``qe.Point`` before the clock
  starts (the engine alone: payload indexes, storage, write-ahead log);
- building those points (Edge's conversion of the payloads, timed apart);
- main's ``EdgeStore.upsert`` before this change (kept below as ``main_upsert``);
- ``EdgeStore.upsert`` now;
- the ingest writer stage alone (``Pipeline.write_batch``: space check, upsert, ledger) at
  the GPU encoder's batch size;

and whether ``EdgeStore.upsert`` reaches 10,000 points/s.

Run: ``python benchmarks/store.py [--points 25000] [--dim 512] [--queries 400] [--local-points 5000]``
or ``python benchmarks/store.py --part writer [--sizes 25000,100000] [--keywords 10]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe
from qdrant_client import QdrantClient, models

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "retrieval"))  # store_backends, which the conftest below imports
sys.path.insert(0, str(ROOT / "tests" / "retrieval" / "store"))

from conftest import make_photo_points  # noqa: E402 - the tests' realistic payloads
from photoseek.config.settings import IngestSettings, QdrantSettings  # noqa: E402
from photoseek.ingest.ledger import Ledger  # noqa: E402
from photoseek.ingest.pipeline import Pipeline  # noqa: E402
from photoseek.retrieval.schema import point_id  # noqa: E402
from photoseek.retrieval.store import EdgeStore, ServerStore  # noqa: E402
from photoseek.retrieval.store.inputs import vector_batch  # noqa: E402

BATCH = 256
# The writer's target: points/s with full payloads, so that a GPU ingest never waits on it.
WRITER_TARGET = 10_000
# The ingest's writes come in encoder batches: 256 on a GPU (retrieval/encoder/clip.py).
GPU_BATCH = 256
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


# -- the writer ----------------------------------------------------------------------------

VOCABULARY = [f"word{i}" for i in range(5000)]
COLOURS = (("grey", "#888888", [136, 136, 136]), ("black", "#000000", [0, 0, 0]), ("green", "#22AA33", [34, 170, 51]),
           ("blue", "#1133CC", [17, 51, 204]), ("white", "#FFFFFF", [255, 255, 255]))
COUNTRIES = ("Iceland", "France", "Japan", "Nigeria", "Ecuador", "Canada", "India", "Norway")


def unsplash_payload(rng: random.Random, index: int, keywords: int) -> dict[str, Any]:
    """One payload as the Unsplash source builds it: every schema field, ``keywords`` keywords with details."""
    photo_id = f"{index:08d}{rng.choice('abcdefgh')}Yz"
    width, height = rng.choice([(6000, 4000), (4000, 6000), (3000, 3000), (5472, 3648)])
    start = datetime(2015, 1, 1, tzinfo=UTC)
    words = rng.sample(VOCABULARY, keywords)
    colours = rng.sample(COLOURS, 3)
    return {
        "source": "unsplash", "photo_id": photo_id,
        "image_url": f"https://images.unsplash.com/photo-{photo_id}",
        "page_url": f"https://unsplash.com/photos/{photo_id}",
        "photographer": f"user{rng.randrange(50_000)}", "photographer_name": "First Last",
        "submitted_at": (start + timedelta(seconds=rng.randrange(9 * 365 * 86400))).isoformat().replace("+00:00", "Z"),
        "taken_at": (start + timedelta(days=rng.randrange(3000))).isoformat().replace("+00:00", "Z"),
        "featured": rng.random() < 0.1, "width": width, "height": height,
        "aspect_ratio": round(width / height, 2),
        "orientation": "square" if width == height else ("landscape" if width > height else "portrait"),
        "description": "A photo of " + " ".join(rng.sample(VOCABULARY, 8)),
        "ai_description": "a scene with " + " ".join(rng.sample(VOCABULARY, 6)),
        "blur_hash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "views": rng.randrange(1_000_000), "downloads": rng.randrange(10_000),
        "keywords": words, "user_keywords": words[:2],
        "keyword_details": [
            {"keyword": w, "ai_service_1": round(rng.uniform(0, 100), 3), "ai_service_2": round(rng.uniform(0, 100), 3),
             "ai_service_3": "confirmed"}
            for w in words
        ],
        "colors": [c[0] for c in colours], "color_hexes": [c[1] for c in colours],
        "color_details": [
            {"keyword": c[0], "hex": c[1], "rgb": c[2], "coverage": round(rng.uniform(0, 60), 2),
             "score": round(rng.random(), 4)}
            for c in colours
        ],
        "collections": ["Nature", f"Set {rng.randrange(5000)}"], "topics": [rng.choice(["Nature", "Travel", "People"])],
        "location": {
            "name": "Some Place", "city": f"City{rng.randrange(500)}", "country": rng.choice(COUNTRIES),
            "geo": {"lat": round(rng.uniform(-80, 80), 6), "lon": round(rng.uniform(-170, 170), 6)},
        },
        "camera": {
            "make": rng.choice(["Canon", "Nikon", "Sony", "FUJIFILM"]), "model": "EOS 5D",
            "iso": rng.choice([100, 400, 1600]), "aperture": 2.8, "aperture_text": "f/2.8", "focal_length": 50.0,
            "focal_length_text": "50 mm", "exposure_time": "1/250", "exposure_seconds": 0.004,
        },
        "landmark": {"name": "Hallgrimskirkja", "geo": {"lat": 64.1417, "lon": -21.9266}, "confidence": 0.87},
    }


def unsplash_points(
    n: int, dim: int, keywords: int, seed: int = 11
) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """``n`` ids, unit vectors and full payloads."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    payloads = [unsplash_payload(rng, i, keywords) for i in range(n)]
    return [point_id(p["photo_id"]) for p in payloads], vectors, payloads


def main_upsert(
    store: EdgeStore, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[Mapping[str, Any]]
) -> None:
    """``EdgeStore.upsert`` as main had it before the writer work: the reference path."""
    import uuid

    shard = store._shard()
    keys = [str(uuid.UUID(str(i))) for i in ids]
    matrix = vector_batch(vectors, len(keys), store._size())
    points = [qe.Point(k, matrix[i], dict(payloads[i])) for i, k in enumerate(keys)]
    if points:
        store._call(lambda: shard.update(qe.UpdateOperation.upsert_points(points)))


class NullEncoder:
    """What ``Pipeline`` reads of an encoder to build its writer; nothing is encoded here."""

    image_size = 224

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def timed_writes(write: Callable[[int, int], None], n: int, batch: int) -> tuple[float, float]:
    """Points per second for ``write(i, j)`` over ``n`` points in batches of ``batch``: by the
    process's CPU time, and by the wall clock.

    The writer runs on one thread with the GIL held (Edge converts and writes under it), so
    points per CPU second is the rate on a core of its own; on a shared machine the wall
    clock also counts what other processes took.
    """
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, n, batch):
        write(i, min(i + batch, n))
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def writer_rates(folder: Path, n: int, dim: int, keywords: int) -> None:
    """Print the writer's points/s at ``n`` points against raw Edge, measured now."""
    ids, vectors, payloads = unsplash_points(n, dim, keywords)
    rates: dict[str, tuple[float, float]] = {}

    def fresh(name: str) -> EdgeStore:
        store = EdgeStore(QdrantSettings(path=folder, collection=f"{name}{n}"), auto_optimize_tail=10**9)
        store.ensure_collection(dim)
        return store

    store = fresh("raw")
    rows = vectors.tolist()
    started = time.process_time()
    points = [qe.Point(k, rows[i], payloads[i]) for i, k in enumerate(ids)]
    build = time.process_time() - started
    shard = store._shard()
    rates["raw Edge update (prebuilt points)"] = timed_writes(
        lambda i, j: shard.update(qe.UpdateOperation.upsert_points(points[i:j])), n, BATCH
    )
    points.clear()  # free them before the next collection
    store.delete_collection()

    store = fresh("main")
    rates["main's EdgeStore.upsert"] = timed_writes(
        lambda i, j: main_upsert(store, ids[i:j], vectors[i:j], payloads[i:j]), n, BATCH
    )
    store.delete_collection()

    store = fresh("new")
    rates["EdgeStore.upsert"] = timed_writes(lambda i, j: store.upsert(ids[i:j], vectors[i:j], payloads[i:j]), n, BATCH)
    store.delete_collection()

    store = fresh("writer")
    ledger = Ledger(folder / f"writer{n}.failures.jsonl")
    pipeline = Pipeline([], store=store, encoder=NullEncoder(dim), ingest=IngestSettings(), ledger=ledger)  # type: ignore[arg-type]
    rates[f"ingest writer stage (batches of {GPU_BATCH})"] = timed_writes(
        lambda i, j: pipeline.write_batch(ids[i:j], vectors[i:j], payloads[i:j]), n, GPU_BATCH
    )
    pipeline.decoder.close()
    store.delete_collection()

    raw = rates["raw Edge update (prebuilt points)"][0]
    print(f"\n{n:,} points, {dim}-d, full payloads with {keywords} keywords, batches of {BATCH}")
    print(f"  {'':48s} {'per CPU second':>14s} {'':8s} {'':16s} {'wall clock':>12s}")
    print(f"  {'building the qe.Points (payload conversion)':48s} {n / build:9.0f} pts/s "
          f"({build / n * 1e6:.0f} µs/point)")
    for name, (cpu, wall) in rates.items():
        print(f"  {name:48s} {cpu:9.0f} pts/s {cpu / raw:5.2f}x raw ({1e6 / cpu:5.0f} µs/point) {wall:7.0f} pts/s")
    new = rates["EdgeStore.upsert"][0]
    main_rate = rates["main's EdgeStore.upsert"][0]
    print(f"  EdgeStore.upsert against main's path: {new / main_rate:.2f}x")
    print(f"  >= {WRITER_TARGET:,} points/s: {'met' if new >= WRITER_TARGET else 'not met'} ({new:.0f} per CPU second)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=25_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--local-points", type=int, default=5_000, help="local mode is slow: fewer points")
    parser.add_argument("--part", choices=["all", "writer", "queries"], default="all")
    parser.add_argument("--sizes", default="25000,100000", help="writer part: points per measurement")
    parser.add_argument("--keywords", type=int, default=10, help="writer part: keywords (with details) per photo")
    args = parser.parse_args()

    if args.part in ("all", "writer"):
        folder = Path(tempfile.mkdtemp(prefix="photoseek-bench-writer-"))
        print(f"writer: {os.cpu_count()} CPUs")
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                writer_rates(folder, size, args.dim, args.keywords)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if args.part == "writer":
            return

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
