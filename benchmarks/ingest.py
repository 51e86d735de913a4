"""Ingest speed: the encoder alone, this pipeline end to end, and the seed notebook's way.

All three run in one process tree on the same cores with a full-size ViT-B/32 CLIP of random
weights (the cost of real weights) over the same folder of generated 1080-px-wide JPEGs:

1. encoder alone: ``encode_pixels`` on ready uint8 batches, the ceiling of this machine;
2. pipeline: ``FolderSource`` -> decode pool -> encoder -> embedded Qdrant Edge store;
3. seed: open each file with PIL, ``SentenceTransformer.encode(images, batch_size=128)``,
   then upsert into qdrant-client's local mode (``QdrantClient(path=...)``).

Each runs in a fresh child process so that its peak memory is its own. Prints images/s, the
ratios 2/1 (target >= 0.85: fetch, decode and write hidden behind the encoder) and 2/3
(target >= 2), and the pipeline's peak memory (target < 3 GB).

The three run in interleaved rounds (``--rounds``, default 3) and the medians are compared, so
that a slow spell of a shared machine does not land on one of them alone.

Run: ``python benchmarks/ingest.py [--images 256] [--batch-size 32] [--device auto] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def _model_dir() -> Path:
    """The full-size random ViT-B/32 folder that benchmarks/encoder.py builds (once)."""
    spec = importlib.util.spec_from_file_location("encoder_benchmark", HERE / "encoder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build_model(module.MODEL_DIR))


def make_folder(folder: Path, count: int) -> None:
    """``count`` photo-like 1080-px-wide JPEGs (both orientations), written once."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) == count:
        return
    rng = np.random.default_rng(0)
    for index in range(count):
        width, height = (1080, 720) if index % 3 else (1080, 1350)
        y, x = np.mgrid[0:height, 0:width]
        freq = rng.uniform(0.003, 0.03, size=3)
        pixels = np.stack([127 + 120 * np.sin(freq[c] * (x + (c + 1) * y)) for c in range(3)], axis=-1)
        pixels += rng.normal(0, 10, size=pixels.shape)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=88)
        (folder / f"photo{index:05d}.jpg").write_bytes(buffer.getvalue())


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _encoder(model: Path, device: str, batch_size: int) -> Any:
    from photoseek.retrieval.encoder import ClipEncoder

    return ClipEncoder(str(model), device=device, batch_size=batch_size)


def encoder_alone(model: Path, folder: Path, device: str, batch_size: int) -> dict[str, float]:
    """1: the encoder on ready uint8 batches (decoding is done before the clock starts)."""
    from photoseek.ingest.decode import decode_image

    encoder = _encoder(model, device, batch_size)
    files = sorted(folder.glob("*.jpg"))
    pixels = np.stack([decode_image(f, encoder.image_size, 10**9) for f in files])
    encoder.encode_pixels(pixels[:batch_size])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(pixels), batch_size):
        encoder.encode_pixels(pixels[start : start + batch_size])
    seconds = time.perf_counter() - started
    return {"images_per_second": len(files) / seconds, "peak_mb": _peak_mb()}


def pipeline(model: Path, folder: Path, device: str, batch_size: int, work: Path) -> dict[str, float]:
    """2: this pipeline, folder to embedded Qdrant Edge store, index build included."""
    from photoseek.config.settings import IngestSettings, QdrantSettings
    from photoseek.ingest.ledger import Ledger
    from photoseek.ingest.pipeline import Pipeline, PipelineOptions
    from photoseek.ingest.sources.folder import FolderSource
    from photoseek.retrieval.store.edge import EdgeStore

    encoder = _encoder(model, device, batch_size)
    encoder.encode_pixels(np.zeros((batch_size, encoder.image_size, encoder.image_size, 3), np.uint8))
    store = EdgeStore(QdrantSettings(path=work / "edge", collection="bench"))
    store.ensure_collection(encoder.dimension)
    started = time.perf_counter()
    report = Pipeline(
        FolderSource(folder),
        store=store,
        encoder=encoder,
        ingest=IngestSettings(),
        ledger=Ledger(work / "failures.jsonl"),
        options=PipelineOptions(batch_size=batch_size),
    ).run()
    seconds = time.perf_counter() - started
    assert report.indexed == len(list(folder.glob("*.jpg"))), report.to_json()
    store.close()
    return {"images_per_second": report.indexed / seconds, "peak_mb": _peak_mb()}


def seed_notebook(model: Path, folder: Path, device: str, batch_size: int, work: Path) -> dict[str, float]:
    """3: the seed's way: PIL open, SentenceTransformer.encode(batch_size=128), local-mode upsert."""
    from qdrant_client import QdrantClient, models
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model), device="cpu" if device == "auto" else device)
    st.encode([Image.new("RGB", (224, 224))], batch_size=1)  # warm-up
    client = QdrantClient(path=str(work / "local"))
    client.create_collection("bench", vectors_config=models.VectorParams(size=512, distance=models.Distance.COSINE))
    files = sorted(folder.glob("*.jpg"))
    started = time.perf_counter()
    images = [Image.open(f) for f in files]
    vectors = st.encode(images, batch_size=128, convert_to_numpy=True, show_progress_bar=False)
    client.upsert(
        "bench",
        points=[
            models.PointStruct(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f.name)), vector=v.tolist(), payload={"path": str(f)}
            )
            for f, v in zip(files, vectors, strict=True)
        ],
    )
    seconds = time.perf_counter() - started
    client.close()
    return {"images_per_second": len(files) / seconds, "peak_mb": _peak_mb()}


def _child(name: str, args: tuple[Any, ...], out: Any) -> None:
    out.put(globals()[name](*args))


def in_child(name: str, *args: Any) -> dict[str, float]:
    """Run one measurement in a fresh process; its peak memory is its own."""
    context = mp.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(name, args, out))
    process.start()
    result = out.get()
    process.join()
    return dict(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=256, help="JPEGs in the folder (default 256)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="rounds of the three measurements, interleaved; the medians are compared (default 3)",
    )
    args = parser.parse_args(argv)

    model = _model_dir()
    root = Path(tempfile.gettempdir()) / "photoseek-bench-ingest"
    folder = root / f"jpegs-{args.images}"
    make_folder(folder, args.images)
    print(f"{args.images} JPEGs of 1080 px wide, batch {args.batch_size}, {os.cpu_count()} cores, device {args.device}")
    # Interleaved rounds: a slow spell of a shared machine hits all three alike, and the
    # median of each is compared.
    runs: dict[str, list[dict[str, float]]] = {"alone": [], "ours": [], "seed": []}
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as work_text:
            work = Path(work_text)
            runs["alone"].append(in_child("encoder_alone", model, folder, args.device, args.batch_size))
            runs["ours"].append(in_child("pipeline", model, folder, args.device, args.batch_size, work))
            runs["seed"].append(in_child("seed_notebook", model, folder, args.device, args.batch_size, work))
        alone, ours, seed = (runs[name][-1]["images_per_second"] for name in ("alone", "ours", "seed"))
        print(f"round {round_number}: 1 encoder alone {alone:6.1f}   2 pipeline {ours:6.1f}   "
              f"3 seed {seed:6.1f} images/s   2/1 {ours / alone:.2f}   2/3 {ours / seed:.2f}")
    alone, ours, seed = (
        statistics.median(r["images_per_second"] for r in runs[name]) for name in ("alone", "ours", "seed")
    )
    peak = max(r["peak_mb"] for r in runs["ours"])
    seed_peak = max(r["peak_mb"] for r in runs["seed"])
    print(f"medians of {args.rounds} rounds:")
    print(f"1 encoder alone       {alone:8.1f} images/s")
    print(f"2 pipeline end to end {ours:8.1f} images/s   peak memory {peak:.0f} MB")
    print(f"3 seed notebook       {seed:8.1f} images/s   peak memory {seed_peak:.0f} MB")
    print(f"ratio 2/1 = {ours / alone:.2f} (target >= 0.85)")
    print(f"ratio 2/3 = {ours / seed:.2f} (target >= 2)")
    print(f"pipeline peak memory {peak / 1024:.2f} GB (target < 3 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
