"""The cost of ``find_duplicates`` on collections of 512-d photos in the embedded Qdrant Edge store.

Each collection is clustered like real embeddings (``benchmarks/search.py``'s generator) and 1%
of its photos get planted near-copies (cosine about 0.99 to their original), so the run also
checks that every planted pair is found and nothing else is grouped. For each size it prints
the time to read the vectors and compare every pair (the whole ``find_duplicates`` call), its
CPU time, the peak memory the call added to the process (resident set, sampled every 20 ms)
and the ratio to the first size (the comparison is quadratic: 10x the photos, ~100x the time).

The collections are written without the HNSW index (``find_duplicates`` reads the stored
vectors and never queries the index), so a 100,000-photo run does not wait for an index build.

Target (2-core machine): 100,000 photos in a few minutes (<= 5).

Run: ``python benchmarks/duplicates.py [--points 10000,100000]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def _search_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_search", HERE / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakMemory:
    """The largest resident set seen while the block runs, sampled by a thread."""

    def __init__(self) -> None:
        self.start = self.peak = _rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def run_size(points: int, dim: int, bench: Any) -> tuple[float, bool]:
    """Build a collection of ``points`` photos plus 1% planted copies and time ``find_duplicates`` on it."""
    from photoseek.config.settings import QdrantSettings
    from photoseek.retrieval.duplicates import DEFAULT_DUPLICATE_THRESHOLD, find_duplicates
    from photoseek.retrieval.schema import point_id
    from photoseek.retrieval.store.edge import EdgeStore

    ids, vectors, payloads = bench.make_collection(points, dim)
    rng = np.random.default_rng(5)
    originals = rng.choice(points, size=max(1, points // 100), replace=False)
    planted = []
    for n, i in enumerate(originals):
        noise = rng.standard_normal(dim).astype(np.float32)
        copy = vectors[i] + 0.14 * noise / np.linalg.norm(noise)
        copy /= np.linalg.norm(copy)
        ids.append(point_id(f"copy{n}"))
        planted.append((ids[i], ids[-1], copy))
        payloads.append({"photo_id": f"copy{n}"})
    vectors = np.vstack([vectors, np.stack([p[2] for p in planted])])
    total = len(ids)
    with tempfile.TemporaryDirectory() as folder:
        # No HNSW (find_duplicates never queries the index): a huge indexing threshold.
        store = EdgeStore(QdrantSettings(path=Path(folder), collection="bench"), indexing_threshold_kb=10**9)
        started = time.perf_counter()
        store.ensure_collection(dim)
        for start in range(0, total, 2000):
            store.upsert(ids[start : start + 2000], vectors[start : start + 2000], payloads[start : start + 2000])
        store.optimize()
        print(f"\n{total} photos ({len(planted)} planted near-copies), {dim}-d", flush=True)
        print(f"  build                  {time.perf_counter() - started:.1f} s", flush=True)
        del vectors, payloads
        cpu = time.process_time()
        started = time.perf_counter()
        with PeakMemory() as memory:
            groups = find_duplicates(store)
        took = time.perf_counter() - started
        cpu = time.process_time() - cpu
        store.close()
    grouped = {frozenset(g.ids) for g in groups}
    found = sum(1 for original, copy, _ in planted if frozenset({original, copy}) in grouped)
    exact = found == len(planted) and len(groups) == len(planted)
    matrix_mb = total * dim * 4 / 1e6
    print(f"  find_duplicates        {took:.1f} s wall, {cpu:.1f} s CPU, threshold {DEFAULT_DUPLICATE_THRESHOLD}")
    print(f"  peak memory added      {(memory.peak - memory.start) / 1e6:.0f} MB (vectors alone {matrix_mb:.0f} MB)")
    print(f"  groups                 {len(groups)}; planted pairs found {found}/{len(planted)}")
    return took, exact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="10000,100000", help="comma-separated collection sizes")
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    sizes = [int(s) for s in args.points.split(",") if s.strip()]
    bench = _search_bench()
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start")
    results = []
    for points in sizes:
        took, exact = run_size(points, args.dim, bench)
        results.append((points, took, exact))
    print()
    first_points, first_took, _ = results[0]
    for points, took, exact in results:
        ratio = took / first_took if first_took else float("nan")
        note = "" if exact else "  MISSED OR EXTRA GROUPS"
        print(
            f"{points:>7} photos: {took:7.1f} s ({took / 60:.1f} min), "
            f"{ratio:5.1f}x the {first_points}-photo run (pairs {points**2 / first_points**2:.0f}x){note}"
        )
    print(f"target: 100,000 photos <= 5 min; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"process peak resident set {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
    return 0 if all(exact for _, _, exact in results) else 1


if __name__ == "__main__":
    sys.exit(main())
