"""Search latency on 25,000 photos of 512-d: Qdrant Edge against qdrant-client local mode, the search
modes, and end to end.

One run, same collection, same queries:

- the store query alone, p50 / p99, with and without a two-condition filter
  (orientation + country, about 5% of the photos), on the embedded Qdrant Edge store and on
  qdrant-client local mode;
- each search mode on the Edge store, for every size in ``--points``: vector (HNSW), keyword
  (BM25 over the photo's words), hybrid with RRF and with DBSF (50 candidates a side), each
  unfiltered and filtered, and the ratio hybrid p50 / vector p50;
- ``ImageSearch.search(text)`` end to end with a full-size ViT-B/32 text tower (random
  weights, the cost of real ones); every text differs, so the query cache hides nothing;
- HNSW recall@10 against exact search on the Edge collection.

Local mode, recall and end to end run on the first size only (local mode takes minutes past
25,000 points); ``--modes-only`` leaves them out.

Targets (2-core machine): Edge filtered p50 <= 2 ms; end-to-end p50 <= 30 ms; Edge >= 50x
faster than local mode on the filtered query; hybrid p50 <= 2x vector p50 at every size.

Run: ``python benchmarks/search.py [--points 25000,100000] [--queries 300] [--local-queries 20] [--modes-only]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

COUNTRIES = ["Iceland", "Norway", "France", "Japan", "Italy", "Spain", "Peru", "Canada", "Kenya", "India"] + [
    f"Country{i}" for i in range(20)
]
WORDS = [
    "dog", "cat", "beach", "snow", "mountain", "city", "night", "forest",
    "car", "food", "river", "bridge", "sunset", "street", "people", "coffee",
]
# Descriptions also draw from a vocabulary of made-up words with Zipf-like frequencies, as the
# words of real captions are: a keyword query then meets short and long posting lists, not 16
# words that every other photo holds.
RARE_WORDS = 5000
ZIPF = 1.1


def rare_vocabulary(size: int = RARE_WORDS, seed: int = 7) -> list[str]:
    """``size`` distinct made-up words of three syllables (no English stop word, no stem clash)."""
    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(syllables, 3))] = None
    return list(words)


def rare_words(rng: np.random.Generator, vocabulary: list[str], shape: tuple[int, ...]) -> np.ndarray:
    """Words of ``vocabulary`` drawn with Zipf-like frequencies (the first ones most often), in ``shape``."""
    weights = 1.0 / np.arange(1, len(vocabulary) + 1) ** ZIPF
    return np.asarray(vocabulary)[rng.choice(len(vocabulary), shape, p=weights / weights.sum())]


def make_collection(n: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    """Clustered unit vectors (real embeddings are not uniform) and Unsplash-like payloads."""
    from photoseek.retrieval.schema import point_id

    rng = np.random.default_rng(seed)
    # Its own generator: the other fields stay what they were before descriptions had rare words.
    rare = rare_words(np.random.default_rng(seed + 1), rare_vocabulary(), (n, 4))
    centres = rng.standard_normal((300, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids, payloads = [], []
    for i in range(n):
        width, height = int(rng.integers(2000, 7000)), int(rng.integers(2000, 7000))
        country = COUNTRIES[min(int(rng.exponential(6)), len(COUNTRIES) - 1)]
        photo_id = f"bench{i:06d}"
        ids.append(point_id(photo_id))
        payloads.append(
            {
                "source": "unsplash",
                "photo_id": photo_id,
                "image_url": f"https://images.unsplash.com/photo-{photo_id}",
                "page_url": f"https://unsplash.com/photos/{photo_id}",
                "description": " ".join([*rng.choice(WORDS, 6), *rare[i]]),
                "ai_description": "a photo of " + " ".join(rng.choice(WORDS, 4)),
                "photographer": f"user{int(rng.integers(3000))}",
                "submitted_at": (
                    f"20{int(rng.integers(14, 24))}-0{int(rng.integers(1, 10))}-1{int(rng.integers(0, 10))}T10:00:00Z"
                ),
                "featured": bool(rng.random() < 0.2),
                "width": width,
                "height": height,
                "aspect_ratio": width / height,
                "orientation": "landscape" if width > height else "portrait" if width < height else "square",
                "location": {
                    "country": country,
                    "city": f"{country}-city",
                    "geo": {"lat": float(rng.uniform(-60, 70)), "lon": float(rng.uniform(-170, 170))},
                },
                "keywords": list(rng.choice(WORDS, 5, replace=False)),
                "colors": list(rng.choice(["red", "blue", "green", "white", "black"], 2, replace=False)),
                "views": int(rng.integers(0, 10**6)),
                "downloads": int(rng.integers(0, 10**4)),
            }
        )
    return ids, vectors, payloads


def timed(call: Callable[[int], Any], count: int) -> np.ndarray:
    """Milliseconds of ``call(i)`` for i in range(count), after two warm-up calls."""
    call(0)
    call(1)
    out = np.empty(count)
    for i in range(count):
        started = time.perf_counter()
        call(i)
        out[i] = (time.perf_counter() - started) * 1000
    return out


def report(name: str, ms: np.ndarray) -> float:
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    print(f"  {name:<42} p50 {p50:9.3f} ms   p99 {p99:9.3f} ms   (n={len(ms)})")
    return float(p50)


def fill(store: Any, ids: list[str], vectors: np.ndarray, payloads: list[dict[str, Any]], batch: int = 1000) -> float:
    started = time.perf_counter()
    store.ensure_collection(vectors.shape[1])
    for start in range(0, len(ids), batch):
        store.upsert(ids[start : start + batch], vectors[start : start + batch], payloads[start : start + batch])
    return time.perf_counter() - started


def load_text_encoder() -> Any:
    """The full-size random ViT-B/32 CLIP that benchmarks/encoder.py builds (once, in the temp folder)."""
    spec = importlib.util.spec_from_file_location("encoder_benchmark", HERE / "encoder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from photoseek.config.settings import ModelSettings
    from photoseek.retrieval.encoder import ClipEncoder

    folder = str(module.build_model(module.MODEL_DIR))
    # The settings' defaults, as ImageSearch.from_settings() would load it on this machine.
    return ClipEncoder.from_settings(ModelSettings(image=folder, text=folder, device="cpu"))


def sizes(text: str) -> list[int]:
    """``--points``: one size or several, comma-separated (``25000,100000``)."""
    try:
        values = [int(part) for part in text.replace("_", "").split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"give sizes as numbers, comma-separated (got {text!r})") from None
    if not values or min(values) < 100:
        raise argparse.ArgumentTypeError(f"give sizes of 100 points or more (got {text!r})")
    return values


def keyword_texts(count: int, seed: int = 2) -> list[str]:
    """Query texts for the keyword side: a common word and a rare one, as people type them."""
    rng = np.random.default_rng(seed)
    rare = rare_words(rng, rare_vocabulary(), (count,))
    return [f"{WORDS[int(rng.integers(len(WORDS)))]} {word}" for word in rare]


def measure_modes(edge: Any, queries: np.ndarray, texts: list[str], two: Any, prefetch: int) -> dict[str, float]:
    """p50 / p99 of each search mode on the store alone, unfiltered and filtered; returns the p50s.

    The modes take turns query by query, so that a busy moment of a shared machine falls on all
    of them alike and the ratios stay fair.
    """
    n = len(queries)
    calls: dict[str, Callable[[int, Any], Any]] = {
        "vector": lambda i, f: edge.query(queries[i % n], limit=10, filter=f),
        "keyword": lambda i, f: edge.query_keywords(texts[i % n], limit=10, filter=f),
        "hybrid-rrf": lambda i, f: edge.query_hybrid(
            queries[i % n], texts[i % n], fusion="rrf", prefetch=prefetch, limit=10, filter=f
        ),
        "hybrid-dbsf": lambda i, f: edge.query_hybrid(
            queries[i % n], texts[i % n], fusion="dbsf", prefetch=prefetch, limit=10, filter=f
        ),
    }
    p50: dict[str, float] = {}
    for label, query_filter in (("", None), (", filtered", two)):
        for call in calls.values():  # warm-up
            call(0, query_filter)
            call(1, query_filter)
        ms = {mode: np.empty(n) for mode in calls}
        for i in range(n):
            for mode, call in calls.items():
                started = time.perf_counter()
                call(i, query_filter)
                ms[mode][i] = (time.perf_counter() - started) * 1000
        for mode in calls:
            p50[mode + label] = report(f"{mode}{label}", ms[mode])
    return p50


def main(argv: list[str] | None = None) -> int:
    """Build the collection in both engines, time the queries, print the figures and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=sizes, default=[25_000],
                        help="collection sizes, comma-separated (default 25000; e.g. 25000,100000)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=300, help="queries per Edge / end-to-end measurement")
    parser.add_argument("--local-queries", type=int, default=20, help="queries per local-mode measurement (slow)")
    parser.add_argument("--prefetch", type=int, default=50, help="candidates each side of a hybrid query (default 50)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--modes-only", action="store_true",
                        help="measure the search modes only (no local mode, recall or end to end)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import warnings

    warnings.filterwarnings("ignore", message=".*local.*", category=UserWarning)
    ratios: list[tuple[int, str, float, float]] = []
    for index, points in enumerate(args.points):
        ratios += run_size(args, points, full=index == 0 and not args.modes_only)
    print("hybrid p50 / vector p50 (target <= 2x):")
    for points, label, hybrid, ratio in ratios:
        print(f"  [{'met' if ratio <= 2.0 else 'not met'}] {points} points, {label}: "
              f"{hybrid:.3f} ms = {ratio:.2f}x vector")
    return 0


def run_size(args: argparse.Namespace, points: int, *, full: bool) -> list[tuple[int, str, float, float]]:
    """One collection of ``points``: the modes, and with ``full`` the rest; returns the hybrid ratios."""
    from qdrant_client import QdrantClient

    from photoseek.config.settings import QdrantSettings
    from photoseek.retrieval.filters import build_filter
    from photoseek.retrieval.search import ImageSearch
    from photoseek.retrieval.store.edge import EdgeStore
    from photoseek.retrieval.store.server import ServerStore

    print(f"collection: {points} points, {args.dim}-d, Unsplash-like payloads; {os.cpu_count()} CPU cores")
    ids, vectors, payloads = make_collection(points, args.dim)
    rng = np.random.default_rng(1)
    queries = vectors[rng.integers(0, len(vectors), args.queries)] + 0.5 * rng.standard_normal((args.queries, args.dim))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    two = build_filter(None, {"orientation": "landscape", "country": "France"})
    ratios: list[tuple[int, str, float, float]] = []

    with tempfile.TemporaryDirectory() as folder:
        edge = EdgeStore(QdrantSettings(path=Path(folder), collection="bench"))  # type: ignore[call-arg]
        upsert_s = fill(edge, ids, vectors, payloads)
        started = time.perf_counter()
        edge.optimize()
        print(f"Qdrant Edge: upsert {upsert_s:.1f} s (with the keyword vectors), "
              f"optimize (HNSW) {time.perf_counter() - started:.1f} s")
        print(f"  filter: orientation=landscape AND country=France matches {edge.count(two)} points "
              f"({100 * edge.count(two) / points:.1f}%)")

        texts = keyword_texts(args.queries)
        print(f"search modes, store alone (limit 10, hybrid prefetch {args.prefetch} a side; "
              f"keyword texts like {texts[0]!r}):")
        p50 = measure_modes(edge, queries, texts, two, args.prefetch)
        for label in ("", ", filtered"):
            for fusion in ("rrf", "dbsf"):
                hybrid = p50[f"hybrid-{fusion}{label}"]
                name = f"hybrid-{fusion}{' with the filter' if label else ' unfiltered'}"
                ratios.append((points, name, hybrid, hybrid / p50[f"vector{label}"]))
        if not full:
            edge.close()
            return ratios

        local = ServerStore(QdrantSettings(collection="bench"), client=QdrantClient(":memory:"))  # type: ignore[call-arg]
        print(f"local mode: upsert {fill(local, ids, vectors, payloads):.1f} s")

        print("store query alone (limit 10):")
        n, m = args.queries, args.local_queries
        edge_plain = report("Qdrant Edge, no filter", timed(lambda i: edge.query(queries[i % n], limit=10), n))
        edge_filtered = report(
            "Qdrant Edge, two-condition filter", timed(lambda i: edge.query(queries[i % n], limit=10, filter=two), n)
        )
        local_plain = report("local mode, no filter", timed(lambda i: local.query(queries[i % n], limit=10), m))
        local_filtered = report(
            "local mode, two-condition filter", timed(lambda i: local.query(queries[i % n], limit=10, filter=two), m)
        )

        hits = total = 0
        for vector in queries:
            approx = {r.id for r in edge.query(vector, limit=10)}
            exact = {r.id for r in edge.query(vector, limit=10, exact=True)}
            hits += len(approx & exact)
            total += len(exact)
        recall = hits / total
        hits = total = 0
        for vector in queries[:100]:
            approx = {r.id for r in edge.query(vector, limit=10, filter=two)}
            exact = {r.id for r in edge.query(vector, limit=10, filter=two, exact=True)}
            hits += len(approx & exact)
            total += len(exact)
        print(f"HNSW recall@10 vs exact (Edge): {recall:.4f} unfiltered, {hits / max(total, 1):.4f} filtered")

        started = time.perf_counter()
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        encoder = load_text_encoder()
        text_kind = "int8" if encoder.text_int8 else "float32"
        print(f"text encoder: ViT-B/32 text tower ({text_kind}), random weights, {encoder.dimension}-d, "
              f"ready in {time.perf_counter() - started:.1f} s")
        search = ImageSearch(edge, encoder)
        texts = [
            f"a photo of {WORDS[i % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]} number {i}" for i in range(n + 2)
        ]
        print("end to end (text -> encoder -> Edge -> hits):")
        e2e = report(
            "ImageSearch.search(text)",
            timed(lambda i: search.search(texts[i + 2] if i > 1 else texts[i], mode="vector"), n),
        )
        e2e_f = report(
            "ImageSearch.search(text, 2 filters)",
            timed(
                lambda i: search.search(
                    "x " + texts[i + 2] if i > 1 else "x " + texts[i], mode="vector",
                    orientation="landscape", country="France",
                ),
                n,
            ),
        )
        e2e_h = report(
            "ImageSearch.search(text, mode=hybrid)",
            timed(lambda i: search.search("y " + texts[i + 2] if i > 1 else "y " + texts[i], mode="hybrid"), n),
        )
        print("targets:")
        ratio = local_filtered / edge_filtered
        for ok, text in (
            (edge_filtered <= 2.0, f"Edge filtered p50 {edge_filtered:.3f} ms <= 2 ms"),
            (e2e <= 30.0, f"end-to-end p50 {e2e:.1f} ms <= 30 ms (with filters {e2e_f:.1f} ms; hybrid {e2e_h:.1f} ms)"),
            (
                ratio >= 50,
                f"Edge {ratio:.0f}x faster than local mode on the filtered query (>= 50x); "
                f"unfiltered {local_plain / edge_plain:.0f}x",
            ),
        ):
            print(f"  [{'met' if ok else 'MISSED'}] {text}")
        edge.close()
        local.close()
    return ratios


if __name__ == "__main__":
    sys.exit(main())
