"""Facet latency on the embedded Qdrant Edge store: exact value counts, with and without a filter.

Payloads are ``benchmarks/search.py``'s Unsplash-like ones (30 countries, 3,000 photographers,
16 keywords); the vectors are small, as facets never read them. It prints p50 / p99 of
``store.facet`` (counts from the payload index, the default) for a few fields, unfiltered and
with a filter (orientation + featured, about 10%), and whether they equal the exact counts.

Target (2-core machine): facets p50 <= 5 ms at 100,000 photos with a filter.

Run: ``python benchmarks/facets.py [--points 100000] [--queries 200]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    from photoseek.config.settings import QdrantSettings
    from photoseek.retrieval.filters import build_filter
    from photoseek.retrieval.store.edge import EdgeStore

    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ids, vectors, payloads = bench.make_collection(args.points, 8)
    filtered = build_filter(None, {"orientation": "landscape", "featured": True})
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(QdrantSettings(path=Path(folder), collection="bench"))
        store.ensure_collection(8)
        for start in range(0, len(ids), 5000):
            store.upsert(ids[start : start + 5000], vectors[start : start + 5000], payloads[start : start + 5000])
        store.optimize()
        print(f"photos {len(ids)}; filter keeps {store.count(filtered)}")
        for field, limit in (("location.country", 10), ("keywords", 10), ("photographer", 20)):
            for name, query_filter in (("all", None), ("filtered", filtered)):
                store.facet(field, limit=limit, filter=query_filter)  # warm-up
                times = []
                for _ in range(args.queries):
                    started = time.perf_counter()
                    store.facet(field, limit=limit, filter=query_filter)
                    times.append((time.perf_counter() - started) * 1000)
                p50, p99 = np.percentile(times, [50, 99])
                exact = store.facet(field, limit=limit, filter=query_filter, exact=True)
                right = store.facet(field, limit=limit, filter=query_filter) == exact
                same = "equal to exact counting" if right else "DIFFERENT from exact counting"
                print(f"facet {field:<17} {name:<9} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({same})")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
