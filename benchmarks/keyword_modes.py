"""Search modes on the embedded store: p50 of vector, keyword and hybrid queries; the keyword side's cost on writes.

Builds N points (512-d unit vectors, payloads with Unsplash-like words drawn from a Zipf
vocabulary) twice in Qdrant Edge, with and without the keyword side, then times each mode
through the store (no model: the query vector is a stored vector plus noise, the query text two
or three words). Prints p50 / p95 in ms and the ratios to vector mode, unfiltered and with a
filter matching about 5% of the points.

    nice -n 10 .venv/bin/python benchmarks/keyword_modes.py --points 25000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import models

from photoseek.config.settings import QdrantSettings
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.edge import EdgeStore

DIM = 512
COUNTRIES = [f"Country{i}" for i in range(20)]  # one of 20: a country filter keeps ~5%


def vocabulary(size: int) -> list[str]:
    """Made-up words that no stemmer folds together."""
    rng = np.random.default_rng(3)
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    vowels = np.array(list("aeiou"))
    words = set()
    while len(words) < size:
        n = int(rng.integers(2, 5))
        words.add("".join(str(rng.choice(letters)) + str(rng.choice(vowels)) for _ in range(n)))
    return sorted(words)


def payloads(n: int, words: list[str], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Payloads whose words follow a Zipf law, as real descriptions and keywords do."""
    ranks = np.arange(1, len(words) + 1)
    p = (1 / ranks) / (1 / ranks).sum()

    def text(k: int) -> str:
        return " ".join(words[i] for i in rng.choice(len(words), size=k, p=p))

    out = []
    for i in range(n):
        out.append(
            {
                "source": "unsplash",
                "photo_id": f"b{i:06d}",
                "description": text(8),
                "ai_description": text(10),
                "keywords": text(12).split(),
                "photographer": f"user{int(rng.integers(3000))}",
                "location": {
                    "country": COUNTRIES[int(rng.integers(len(COUNTRIES)))],
                    "city": words[int(rng.integers(500))],
                },
            }
        )
    return out


def build(
    folder: Path, name: str, ids: list[str], vectors: np.ndarray, docs: list[dict[str, Any]], keywords: bool
) -> tuple[EdgeStore, float]:
    """The collection, and the seconds its upserts took."""
    store = EdgeStore(QdrantSettings(path=folder, collection=name))  # type: ignore[call-arg]
    if keywords:
        store.ensure_collection(DIM)
    else:  # the layout before the keyword side: created by hand, as main's code did
        import qdrant_edge as qe

        (folder / name).mkdir(parents=True)
        shard = qe.EdgeShard.create(
            str(folder / name), qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine))
        )
        shard.close()
        store.ensure_collection(DIM)
    start = time.perf_counter()
    for i in range(0, len(ids), 256):
        store.upsert(ids[i : i + 256], vectors[i : i + 256], docs[i : i + 256])
    seconds = time.perf_counter() - start
    store.optimize()
    return store, seconds


def timed(call: Callable[[], Any], repeats: int) -> list[float]:
    for _ in range(10):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=25_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--prefetch", type=int, default=50)
    args = parser.parse_args()

    rng = np.random.default_rng(11)
    words = vocabulary(5000)
    vectors = rng.standard_normal((args.points, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [point_id(f"b{i:06d}") for i in range(args.points)]
    docs = payloads(args.points, words, rng)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plain, plain_s = build(folder, "plain", ids, vectors, docs, keywords=False)
        plain.close()
        store, hybrid_s = build(folder, "modes", ids, vectors, docs, keywords=True)
        print(
            f"{args.points} points, upsert: {plain_s:.1f} s without the keyword side, {hybrid_s:.1f} s with it "
            f"({hybrid_s / plain_s:.2f}x)"
        )
        queries = []
        for _ in range(args.queries):
            row = vectors[int(rng.integers(args.points))] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
            text = " ".join(words[int(i)] for i in rng.integers(0, 400, size=int(rng.integers(2, 4))))
            queries.append((row, text))
        country = models.Filter(
            must=[models.FieldCondition(key="location.country", match=models.MatchValue(value=COUNTRIES[3]))]
        )
        for label, flt in (("no filter", None), ("5% filter", country)):
            it = iter(queries * 12)
            modes: dict[str, Callable[[], Any]] = {
                "vector": lambda it=it, flt=flt: store.query(next(it)[0], limit=10, filter=flt),
                "keyword": lambda it=it, flt=flt: store.query_keywords(next(it)[1], limit=10, filter=flt),
                "hybrid rrf": lambda it=it, flt=flt: store.query_hybrid(
                    *next(it), fusion="rrf", prefetch=args.prefetch, limit=10, filter=flt
                ),
                "hybrid dbsf": lambda it=it, flt=flt: store.query_hybrid(
                    *next(it), fusion="dbsf", prefetch=args.prefetch, limit=10, filter=flt
                ),
            }
            results = {name: timed(call, args.queries) for name, call in modes.items()}
            base = statistics.median(results["vector"])
            for name, times in results.items():
                p50 = statistics.median(times)
                p95 = float(np.percentile(times, 95))
                print(f"{label:10} {name:12} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  {p50 / base:5.2f}x vector")
        store.close()


if __name__ == "__main__":
    main()
