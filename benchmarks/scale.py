"""The embedded store's cost curve: one collection grown to 100k, 250k, 500k and 1M photos.

Clustered 512-d vectors (2,000 Gaussian centres) and Unsplash-shaped payloads from
``tests/scale_photos.py`` (the generator the filtered-recall tests use), written through the
project's schema and writer (``EdgeStore.ensure_collection`` / ``upsert`` / ``optimize``).

For each size and each layout it prints: upsert points/s, index build time and the process's
peak RSS during the build, disk, the RSS of a fresh process after it opened the collection
(and after the queries), query p50/p99 and recall@10 against an exact search without a filter
and with each filter kind (keyword ~5 %, keyword ~0.1 %, date range + orientation ~3 %),
and a facet count's time. Layouts:

- ``int8``: a new collection as photoseek makes it (int8 + originals on disk + rescoring,
  HNSW links on the most filtered fields, exact scan for small filters, ACORN for the rest);
- ``float32``: the same with ``quantization = "none"`` (the quantization comparison);
- ``main``: the layout before (engine defaults: every indexed field with links, float32,
  every query a plain graph search with hnsw_ef 128).

Then the targets, each "met" or "not met": int8 builds the index >= 2x faster than float32,
memory after reopening <= 1 GB at 1M, recall@10 >= 0.99 for every query kind, p50 <= 5 ms.

Run: ``python benchmarks/scale.py [--sizes 100000,250000,500000,1000000] [--max-points N]
[--layouts int8,float32,main] [--keep DIR] [--queries 100]``. With ``--keep DIR`` the
collections stay in DIR and a later run resumes growing them from the size they reached.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import scale_photos as photos  # noqa: E402 - the generator shared with the tests

from photoseek.config.settings import QdrantSettings  # noqa: E402
from photoseek.retrieval.schema import INDEXED_FIELDS, IndexKind  # noqa: E402
from photoseek.retrieval.store import EdgeStore  # noqa: E402
from photoseek.retrieval.store.edge import EDGE_SCHEMA_TYPES  # noqa: E402
from photoseek.retrieval.store.edge_filters import translate_filter  # noqa: E402

DIM = 512
BATCH = 1_000
LAYOUTS = ("int8", "float32", "main")
MAIN_EF = 128


def settings_for(folder: Path, layout: str) -> QdrantSettings:
    quantization = "int8" if layout == "int8" else "none"
    return QdrantSettings(path=folder, collection=f"scale_{layout}", quantization=quantization)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


class PeakRss:
    """The highest RSS of this process while the block runs (sampled every 50 ms)."""

    def __enter__(self) -> PeakRss:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def create_main_layout(store: EdgeStore) -> None:
    """The collection as main made it: vectors only, every index with the engine's defaults."""
    store.folder.mkdir(parents=True, exist_ok=True)
    config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=DIM, distance=qe.Distance.Cosine), wal_enabled=True)
    shard = qe.EdgeShard.create(str(store.folder), config)
    for path, kind in INDEXED_FIELDS.items():
        index = (
            qe.TextIndexParams(tokenizer=qe.TokenizerType.Word, lowercase=True, phrase_matching=True)
            if kind is IndexKind.TEXT
            else EDGE_SCHEMA_TYPES[kind]
        )
        shard.update(qe.UpdateOperation.create_field_index(path, index))
    shard.close()


def grow(folder: Path, layout: str, size: int) -> dict[str, Any]:
    """Grow the layout's collection to ``size`` points and build its index; the write figures."""
    store = EdgeStore(settings_for(folder, layout))
    if layout == "main" and not store.collection_exists():
        create_main_layout(store)
    store.ensure_collection(DIM)
    have = store.count()
    added = max(0, size - have)
    started = time.perf_counter()
    for ids, vectors, payloads in photos.batches(have - have % BATCH, size, DIM, BATCH):
        store.upsert(ids, vectors, payloads)
    upsert_s = time.perf_counter() - started
    with PeakRss() as peak:
        started = time.perf_counter()
        store.optimize()
        build_s = time.perf_counter() - started
    store.close()
    return {
        "points": size,
        "upsert_pps": added / upsert_s if added else float("nan"),
        "build_s": build_s,
        "build_peak_rss_mb": peak.peak,
        "disk_mb": disk_mb(store.folder),
    }


def measure(folder: Path, layout: str, queries: int) -> dict[str, Any]:
    """In a fresh process: RSS after opening, latency and recall@10 per query kind, a facet's time."""
    baseline = rss_mb()
    store = EdgeStore(settings_for(folder, layout))
    store.count()
    opened = rss_mb()
    vectors = photos.query_vectors(queries, DIM)
    shard = store._shard()  # main's plain graph search, for the "main" layout
    kinds: list[tuple[str, Any]] = [("no filter", None)] + [(k.name, k.filter) for k in photos.filter_kinds()]
    result: dict[str, Any] = {"rss_base_mb": baseline, "rss_open_mb": opened, "kinds": {}}
    # The timed searches first, so that the RSS after them is what a search process holds; the
    # exact searches for recall read every original vector from disk and come after.
    answers: dict[str, list[set[str]]] = {}
    for name, flt in kinds:
        edge_filter = translate_filter(flt)
        times, answers[name] = [], []
        for q in vectors:
            started = time.perf_counter()
            if layout == "main":
                request = qe.QueryRequest(
                    query=qe.Query.Nearest(q.tolist()),
                    limit=10,
                    filter=edge_filter,
                    params=qe.SearchParams(hnsw_ef=MAIN_EF),
                    with_payload=True,
                )
                got = {str(p.id) for p in shard.query(request)}
            else:
                got = {r.id for r in store.query(q, limit=10, filter=flt)}
            times.append(time.perf_counter() - started)
            answers[name].append(got)
        result["kinds"][name] = {
            "matches": store.count(flt),
            "p50_ms": float(np.percentile(times, 50) * 1000),
            "p99_ms": float(np.percentile(times, 99) * 1000),
        }
    result["rss_served_mb"] = rss_mb()
    for name, flt in kinds:
        recalls = []
        for q, got in zip(vectors, answers[name], strict=True):
            truth = {r.id for r in store.query(q, limit=10, filter=flt, exact=True)}
            recalls.append(len(truth & got) / len(truth) if truth else 1.0)
        result["kinds"][name] |= {"recall": float(np.mean(recalls)), "min_recall": float(np.min(recalls))}
    started = time.perf_counter()
    store.facet("location.country", limit=10)
    result["facet_ms"] = (time.perf_counter() - started) * 1000
    result["rss_queried_mb"] = rss_mb()
    store.close()
    return result


def measure_fresh(folder: Path, layout: str, queries: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(folder), "--layouts", layout, "--queries", str(queries)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(layout: str, grown: dict[str, Any], measured: dict[str, Any]) -> None:
    pps = grown["upsert_pps"]
    print(
        f"[{layout}] {grown['points']:,} points: upsert {pps:,.0f} points/s | build {grown['build_s']:.1f} s, "
        f"peak RSS {grown['build_peak_rss_mb']:,.0f} MB | disk {grown['disk_mb']:,.0f} MB | "
        f"RSS after reopen {measured['rss_open_mb']:,.0f} MB (process alone {measured['rss_base_mb']:,.0f} MB), "
        f"after the searches {measured.get('rss_served_mb', float('nan')):,.0f} MB, after the exact ones "
        f"{measured['rss_queried_mb']:,.0f} MB | facet {measured['facet_ms']:.1f} ms",
        flush=True,
    )
    for name, k in measured["kinds"].items():
        print(
            f"    {name:<22} matches {k['matches']:>8,}  p50 {k['p50_ms']:6.2f} ms  p99 {k['p99_ms']:7.2f} ms  "
            f"recall@10 {k['recall']:.3f} (min {k['min_recall']:.2f})",
            flush=True,
        )


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def targets(rows: dict[str, dict[int, tuple[dict[str, Any], dict[str, Any]]]]) -> None:
    int8 = rows.get("int8", {})
    if not int8:
        return
    largest = max(int8)
    print(f"\ntargets (largest size reached: {largest:,} points)")
    for size, (grown, measured) in sorted(int8.items()):
        recalls = [k["recall"] for k in measured["kinds"].values()]
        p50s = [k["p50_ms"] for k in measured["kinds"].values()]
        print(
            f"  {size:>9,}: recall@10 >= 0.99 for every kind: {verdict(min(recalls) >= 0.99)} "
            f"(min {min(recalls):.3f}); p50 <= 5 ms: {verdict(max(p50s) <= 5)} (max {max(p50s):.2f} ms)"
        )
        if size in rows.get("float32", {}):
            ratio = rows["float32"][size][0]["build_s"] / grown["build_s"]
            print(f"             int8 index build >= 2x faster than float32: {verdict(ratio >= 2)} ({ratio:.2f}x)")
        if size in rows.get("main", {}):
            main = rows["main"][size]
            main_min = min(k["recall"] for k in main[1]["kinds"].values())
            print(f"             before (main's layout): min recall {main_min:.3f}, build {main[0]['build_s']:.1f} s")
    memory = int8[largest][1]["rss_open_mb"]
    if largest >= 1_000_000:
        print(f"  memory after reopening <= 1 GB at 1M: {verdict(memory <= 1024)} ({memory:,.0f} MB)")
    else:
        print(f"  memory after reopening <= 1 GB at 1M: not measured (1M not reached; {memory:,.0f} MB at {largest:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,250000,500000,1000000")
    parser.add_argument("--max-points", type=int, default=None, help="stop growing at this size")
    parser.add_argument("--layouts", default="int8,float32,main")
    parser.add_argument("--keep", type=Path, default=None, help="keep the collections here (and resume from them)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    layouts = [name for name in args.layouts.split(",") if name]
    if unknown := set(layouts) - set(LAYOUTS):
        parser.error(f"unknown layouts {sorted(unknown)}; choose from {LAYOUTS}")
    if args.measure is not None:
        print(json.dumps(measure(args.measure, layouts[0], args.queries)))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.max_points is not None:
        sizes = [s for s in sizes if s <= args.max_points] or [args.max_points]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="photoseek-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{DIM}-d clustered vectors ({photos.CENTRES:,} centres), layouts {layouts}, data in {folder}, "
          f"{os.cpu_count()} cores", flush=True)
    rows: dict[str, dict[int, tuple[dict[str, Any], dict[str, Any]]]] = {name: {} for name in layouts}
    try:
        for size in sizes:
            for layout in layouts:
                grown = grow(folder, layout, size)
                measured = measure_fresh(folder, layout, args.queries)
                rows[layout][size] = (grown, measured)
                report(layout, grown, measured)
    except KeyboardInterrupt:
        print("stopped: the figures above are the largest sizes reached", flush=True)
    finally:
        targets(rows)
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
