"""Text-query throughput on a CPU with torch threads 1, 2 and torch's default, alone and under load.

A search service encodes each query on the CPU while other requests arrive. torch's default
thread count (one per core) makes one query a little faster alone, but with many callers at
once every query's threads fight for the same cores. For each thread count, in a fresh process:

- single: one caller, queries one after another (median latency, queries/s);
- 16 threads: 16 callers at once (queries/s in all, median and p95 latency).

The model is a full-size ViT-B/32 CLIP with random weights (``benchmarks/encoder.py`` builds
it; same cost as real weights), or the tiny test CLIP with ``--tiny``. Queries are distinct and
the query cache is off, so every call runs the text tower.

Run: ``python benchmarks/query_threads.py [--queries 200] [--callers 16] [--tiny] [--float32]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _queries(n: int, offset: int) -> list[str]:
    from encoder import QUERY_WORDS

    words = QUERY_WORDS
    return [
        f"a photo of {words[(i * 7) % len(words)]} {words[(i * 13 + 5) % len(words)]} near the "
        f"{words[(i * 29 + 11) % len(words)]} number {offset + i}"
        for i in range(n)
    ]


def measure(folder: str, threads: int | None, queries: int, callers: int, int8: bool) -> dict[str, float]:
    """Run in a fresh process: set the thread count, load the encoder, time both loads."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from photoseek.retrieval.encoder import ClipEncoder

    encoder = ClipEncoder(folder, device="cpu", query_cache_size=0, text_int8_on_cpu=int8)
    for text in _queries(10, 10**6):
        encoder.encode_text([text])
    latencies: list[float] = []
    for text in _queries(queries, 0):
        started = time.perf_counter()
        encoder.encode_text([text])
        latencies.append(time.perf_counter() - started)
    single_qps = len(latencies) / sum(latencies)
    single_p50 = statistics.median(latencies) * 1000

    per_caller = max(1, queries // callers * 2)
    loaded: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def caller(index: int) -> None:
        texts = _queries(per_caller, 10**5 * (index + 1))
        barrier.wait()
        mine = []
        for text in texts:
            started = time.perf_counter()
            encoder.encode_text([text])
            mine.append(time.perf_counter() - started)
        with lock:
            loaded.extend(mine)

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    loaded.sort()
    return {
        "threads": torch.get_num_threads(),
        "single_qps": single_qps,
        "single_p50_ms": single_p50,
        "loaded_qps": len(loaded) / wall,
        "loaded_p50_ms": loaded[len(loaded) // 2] * 1000,
        "loaded_p95_ms": loaded[int(len(loaded) * 0.95)] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each thread count in its own process and print the table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200, help="queries of the single caller")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers")
    parser.add_argument("--tiny", action="store_true", help="the tiny test CLIP instead of a full-size one")
    parser.add_argument("--float32", action="store_true", help="float32 text weights (default: int8, as the settings)")
    parser.add_argument("--threads", default="1,2,default", help="thread counts to try")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child is not None:
        folder, threads = args.child.split("|")
        result = measure(folder, int(threads) or None, args.queries, args.callers, not args.float32)
        print(json.dumps(result))
        return 0

    if args.tiny:
        from tiny_clip import build_tiny_clip

        folder = build_tiny_clip(Path(tempfile.mkdtemp()) / "tiny", dim=16, image_size=32)
        name = "tiny CLIP"
    else:
        from encoder import MODEL_DIR, build_model

        folder = build_model(MODEL_DIR)
        name = "ViT-B/32 CLIP, random weights"
    kind = "float32" if args.float32 else "int8"
    print(f"model: {name} ({kind} text tower), CPU, {os.cpu_count()} cores, {args.callers} concurrent callers")
    rows = []
    for setting in args.threads.split(","):
        threads = 0 if setting == "default" else int(setting)
        child = [sys.executable, __file__, "--child", f"{folder}|{threads}", "--queries", str(args.queries),
                 "--callers", str(args.callers)] + (["--float32"] if args.float32 else [])
        done = subprocess.run(child, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["setting"] = setting
        rows.append(result)
        print(
            f"threads {setting:>7} ({result['threads']:>2}): single {result['single_qps']:7.1f} q/s "
            f"(p50 {result['single_p50_ms']:6.1f} ms) | {args.callers} callers {result['loaded_qps']:7.1f} q/s "
            f"(p50 {result['loaded_p50_ms']:7.1f} ms, p95 {result['loaded_p95_ms']:7.1f} ms)",
            flush=True,
        )
    base = next((r for r in rows if r["setting"] == "default"), rows[-1])
    for row in rows:
        print(
            f"threads {row['setting']:>7} vs default: single {row['single_qps'] / base['single_qps']:.2f}x, "
            f"loaded {row['loaded_qps'] / base['loaded_qps']:.2f}x, loaded p95 "
            f"{base['loaded_p95_ms'] / row['loaded_p95_ms']:.2f}x lower"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
