"""The cost of ``find_duplicates`` on a collection of 512-d photos in the embedded Qdrant Edge store.

The collection is clustered like real embeddings (``benchmarks/search.py``'s generator) and
1% of its photos get planted near-copies (cosine about 0.99 to their original), so the run also
checks that every planted pair is found. It prints the build time, the duplicate search's wall
time, its throughput in photos a second and the projected time at 100,000 photos.

Target (2-core machine): 100,000 photos in a few minutes (<= 5).

Run: ``python benchmarks/duplicates.py [--points 100000]``.
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


def _search_bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()

    from photoseek.config.settings import QdrantSettings
    from photoseek.retrieval.duplicates import DEFAULT_DUPLICATE_THRESHOLD, find_duplicates
    from photoseek.retrieval.schema import point_id
    from photoseek.retrieval.store.edge import EdgeStore

    ids, vectors, payloads = _search_bench().make_collection(args.points, args.dim)  # type: ignore[attr-defined]
    rng = np.random.default_rng(5)
    originals = rng.choice(args.points, size=max(1, args.points // 100), replace=False)
    planted = []
    for n, i in enumerate(originals):
        noise = rng.standard_normal(args.dim).astype(np.float32)
        copy = vectors[i] + 0.14 * noise / np.linalg.norm(noise)
        copy /= np.linalg.norm(copy)
        ids.append(point_id(f"copy{n}"))
        planted.append((ids[i], ids[-1], copy))
        payloads.append({"photo_id": f"copy{n}"})
    vectors = np.vstack([vectors, np.stack([p[2] for p in planted])])
    total = len(ids)
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(QdrantSettings(path=Path(folder), collection="bench"))
        started = time.perf_counter()
        store.ensure_collection(args.dim)
        for start in range(0, total, 2000):
            store.upsert(ids[start : start + 2000], vectors[start : start + 2000], payloads[start : start + 2000])
        store.optimize()
        built = time.perf_counter() - started
        print(f"build + index          {built:.1f} s ({total} photos)", flush=True)
        started = time.perf_counter()
        groups = find_duplicates(store)
        took = time.perf_counter() - started
        store.close()
    grouped = {frozenset(g.ids) for g in groups}
    found = sum(1 for original, copy, _ in planted if any({original, copy} <= g for g in grouped))
    rate = total / took
    print(f"photos                 {total} ({len(planted)} planted near-copies), {args.dim}-d")
    print(f"find_duplicates        {took:.1f} s at threshold {DEFAULT_DUPLICATE_THRESHOLD} ({rate:.0f} photos/s)")
    print(f"groups                 {len(groups)}; planted pairs found {found}/{len(planted)}")
    print(f"projected at 100k      {100_000 / rate / 60:.1f} min (target <= 5 min)")
    return 0 if found == len(planted) else 1


if __name__ == "__main__":
    sys.exit(main())
