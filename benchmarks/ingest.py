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

On a CUDA GPU the pipeline runs twice: with the resize and crop on the GPU (the decode workers
only decode; the default there) and on the CPU workers, as on a CPU machine; the target is
5,000 images/s per GPU (``benchmarks/gpu.sh`` runs it).

``--encoder null`` measures everything but the model, per core: an encoder that costs nothing
(``ingest/null_encoder.py``) behind the real pipeline, over 640-px-wide JPEGs (the CDN
rendition ingest asks for: 640x427 landscapes, one in three a 640x960 portrait), read from a
folder and fetched from the loopback HTTP server (``tests/httpserver.py``), decoded,
resized and cropped, and written to the embedded store. Rows: the CPU path (torch's uint8
resize), the same with Pillow's resize (how it was before), and the decode alone (what a GPU
encoder that resizes on the device leaves to the CPU). Cores used = the decode workers
(``--workers``, default all cores); target >= 350 images/s per core.

``--part check`` measures how close each way of preparing pixels is to the Hugging Face
processor: mean absolute difference in levels of 255, and the cosine of the full-size random
ViT-B/32's vectors to the processor's own path (``SentenceTransformer.encode`` on images).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import multiprocessing as mp
import os
import queue
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
sys.path.insert(0, str(HERE.parent / "tests"))
PER_CORE_TARGET = 350
PER_GPU_TARGET = 5000


def _model_dir(tiny: bool = False) -> Path:
    """The full-size random ViT-B/32 folder that benchmarks/encoder.py builds (once); with
    ``tiny``, a tiny random CLIP of the same input (224 px, 32-px patches) for a quick dry run."""
    if tiny:
        from tiny_clip import build_tiny_clip

        folder = Path(tempfile.gettempdir()) / "photoseek-bench-tiny-clip-224"
        if not (folder / "processor_config.json").exists() and not (folder / "config.json").exists():
            build_tiny_clip(folder, dim=512, image_size=224, patch_size=32)
        return folder
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


def make_renditions(folder: Path, count: int) -> None:
    """``count`` photo-like 640-px-wide JPEGs at quality 85, one in three a portrait, written once."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) == count:
        return
    with mp.get_context("spawn").Pool(os.cpu_count() or 1) as pool:
        pool.map(_write_rendition, [(folder, index) for index in range(count)], chunksize=16)


def _write_rendition(job: tuple[Path, int]) -> None:
    from photo_datasets import photo_jpeg

    folder, index = job
    width, height = (640, 427) if index % 3 else (640, 960)
    (folder / f"photo{index:05d}.jpg").write_bytes(photo_jpeg(width, height, seed=index, quality=85))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _encoder(model: Path, device: str, batch_size: int, resize_on_device: bool | None = None) -> Any:
    from photoseek.retrieval.encoder import ClipEncoder

    return ClipEncoder(str(model), device=device, batch_size=batch_size, resize_on_device=resize_on_device)


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


def pipeline(
    model: Path, folder: Path, device: str, batch_size: int, work: Path, resize_on_device: bool | None = None
) -> dict[str, float]:
    """2: this pipeline, folder to embedded Qdrant Edge store, index build included."""
    from photoseek.config.settings import IngestSettings, QdrantSettings
    from photoseek.ingest.ledger import Ledger
    from photoseek.ingest.pipeline import Pipeline, PipelineOptions
    from photoseek.ingest.sources.folder import FolderSource
    from photoseek.retrieval.store.edge import EdgeStore

    work.mkdir(parents=True, exist_ok=True)
    encoder = _encoder(model, device, batch_size, resize_on_device)
    encoder.encode_pixels(np.zeros((batch_size, encoder.image_size, encoder.image_size, 3), np.uint8))
    if encoder.resizes_on_device:  # warm the device's resize kernels too
        encoder.encode_frames([np.zeros((427, 640, 3), np.uint8)] * batch_size)
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
    # The seed opened every file, then encoded the list; here a thousand at a time, so that
    # thousands of lazily opened files stay under the open-file limit.
    parts = []
    for start in range(0, len(files), 1024):
        images = [Image.open(f) for f in files[start : start + 1024]]
        parts.append(st.encode(images, batch_size=128, convert_to_numpy=True, show_progress_bar=False))
        for image in images:
            image.close()
    vectors = np.concatenate(parts)
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


def null_pipeline(folder: Path, work: Path, way: str, source: str, workers: int, batch_size: int) -> dict[str, float]:
    """The pipeline with the null encoder: everything but the model, on ``workers`` decode threads.

    ``way``: ``cpu`` (decode, resize and crop in the workers), ``pillow`` (the same with
    Pillow's resize, as before torch's kernel was used) or ``decode`` (the workers only decode,
    as for an encoder that resizes on its GPU). ``source``: ``folder`` or ``http``.
    """
    import subprocess

    import torch  # noqa: F401 - loaded before the clock starts, as a real encoder has it loaded

    from photoseek.config.settings import IngestSettings, QdrantSettings
    from photoseek.ingest.ledger import Ledger
    from photoseek.ingest.null_encoder import NullEncoder
    from photoseek.ingest.pipeline import Pipeline, PipelineOptions
    from photoseek.ingest.sources.folder import FolderSource
    from photoseek.ingest.sources.record import SourceRecord
    from photoseek.retrieval import preprocess
    from photoseek.retrieval.schema import point_id
    from photoseek.retrieval.store.edge import EdgeStore

    if way == "pillow":
        preprocess._torch_checked, preprocess._torch = True, None  # Pillow's resize, as before
    encoder = NullEncoder(resizes_on_device=way == "decode")
    store = EdgeStore(QdrantSettings(path=work / f"edge-{way}-{source}", collection="bench"))
    store.ensure_collection(encoder.dimension)
    files = sorted(folder.glob("*.jpg"))
    server = None
    items: Any
    if source == "http":
        server = subprocess.Popen(
            [sys.executable, str(HERE.parent / "tests" / "httpserver.py"), "--dir", str(folder)],
            stdout=subprocess.PIPE, text=True,
        )
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        items = [
            SourceRecord(point_id(f.name), f.name, "unsplash", url=f"http://127.0.0.1:{port}/img/{f.name}")
            for f in files
        ]
    else:
        items = FolderSource(folder)
    ingest = IngestSettings(decode_workers=workers, allowed_hosts="127.0.0.1", concurrency=32, per_host_concurrency=32)
    try:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        report = Pipeline(
            items, store=store, encoder=encoder, ingest=ingest, ledger=Ledger(work / f"failures-{way}-{source}.jsonl"),
            options=PipelineOptions(batch_size=batch_size, optimize=False),
        ).run()
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        store.close()
    assert report.indexed == len(files), report.to_json()
    return {"images_per_second": report.indexed / seconds, "images_per_cpu_second": report.indexed / cpu,
            "peak_mb": _peak_mb()}


def _cpu_seconds() -> float:
    """CPU time this process has used, all its threads (not the loopback server's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(name: str, args: tuple[Any, ...], out: Any) -> None:
    out.put(globals()[name](*args))


def in_child(name: str, *args: Any) -> dict[str, float]:
    """Run one measurement in a fresh process; its peak memory is its own."""
    context = mp.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(name, args, out))
    process.start()
    while True:
        try:
            result = out.get(timeout=1.0)
            break
        except queue.Empty:
            if not process.is_alive():  # it failed: its traceback is on stderr
                raise RuntimeError(f"{name} ended with exit code {process.exitcode} and no result") from None
    process.join()
    return dict(result)


def check(model: Path, folder: Path, device: str, count: int) -> None:
    """Pixels and vectors of each way of preparing an image against the processor's own path."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from photoseek.ingest.decode import decode_frame, decode_image
    from photoseek.retrieval import preprocess
    from photoseek.retrieval.encoder.device_resize import resize_crop_on_device

    encoder = _encoder(model, device, 32, resize_on_device=True)
    size = encoder.image_size
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}, do_normalize=False
    )
    datas = [f.read_bytes() for f in sorted(folder.glob("*.jpg"))[:count]]
    images = [Image.open(io.BytesIO(data)).convert("RGB") for data in datas]
    exact_levels = np.stack([processor(images=i, return_tensors="np")["pixel_values"][0] for i in images]) * 255
    exact = encoder.image_model.encode(images, batch_size=32, convert_to_numpy=True)
    exact = exact / np.linalg.norm(exact, axis=1, keepdims=True)

    def drafted(data: bytes) -> np.ndarray:
        image = Image.open(io.BytesIO(data))
        image.draft("RGB", (image.width // 2, image.height // 2))
        return preprocess.clip_resize_crop(image, size)

    def pillow(data: bytes) -> np.ndarray:
        saved = preprocess._torch_checked, preprocess._torch
        preprocess._torch_checked, preprocess._torch = True, None
        try:
            return decode_image(data, size, 10**9)
        finally:
            preprocess._torch_checked, preprocess._torch = saved

    print(f"check: {len(datas)} JPEGs 640 px wide, {model.name} (random weights) on "
          f"{encoder.device}/{encoder.precision}; against the Hugging Face processor (CLIPImageProcessor) "
          "and SentenceTransformer.encode")
    ways: list[tuple[str, np.ndarray, np.ndarray]] = []
    for name, prepare in (
        ("CPU, torch uint8 resize (now)", lambda d: decode_image(d, size, 10**9)),
        ("CPU, Pillow resize (before)", pillow),
        ("JPEG draft at 1/2 (not used)", drafted),
    ):
        crops = np.stack([prepare(d) for d in datas])
        ways.append((name, crops.transpose(0, 3, 1, 2).astype(np.float64), encoder.encode_pixels(crops)))
    frames = [decode_frame(d, size, 10**9) for d in datas]
    levels = resize_crop_on_device(frames, size, encoder.device).cpu().numpy().astype(np.float64)
    ways.append((f"device resize on {encoder.device} (GPU path)", levels, encoder.encode_frames(frames)))
    for name, levels, vectors in ways:
        apart = np.abs(levels - exact_levels)
        cosines = (vectors * exact).sum(axis=1)
        mark = "met" if apart.mean() <= 1.0 and cosines.min() >= 0.999 else "NOT met"
        print(f"  {name:42s} mean |pixel diff| {apart.mean():5.3f} levels (max {apart.max():3.0f})   "
              f"cosine min {cosines.min():.6f} mean {cosines.mean():.6f}   "
              f"(<= 1 level and >= 0.999: {mark})")


def run_null(args: argparse.Namespace) -> None:
    """Everything but the model, per core, from a folder and from the loopback server."""
    root = Path(tempfile.gettempdir()) / "photoseek-bench-ingest"
    folder = root / f"renditions-{args.images}"
    make_renditions(folder, args.images)
    workers = args.workers or os.cpu_count() or 1
    print(f"null encoder: {args.images} JPEGs 640 px wide (640x427, every third 640x960; quality 85), "
          f"batch {args.batch_size}; cores used = {workers} decode workers (of {os.cpu_count()} cores); "
          f"the writer (embedded store), fetch loop and server share those cores. Per core = images "
          f"per CPU-second of the ingest process, all its threads (a shared machine's wall clock "
          f"also counts other work)")
    ways = {"cpu": "decode + resize/crop, torch uint8 (CPU path, now)",
            "pillow": "decode + resize/crop, Pillow (CPU path, before)",
            "decode": "decode only (GPU path: resize on the device)"}
    for source in args.sources.split(","):
        runs: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as work_text:
                for way in ways:
                    runs[way].append(
                        in_child("null_pipeline", folder, Path(work_text), way, source, workers, args.batch_size)
                    )
        for way, label in ways.items():
            rate = statistics.median(r["images_per_second"] for r in runs[way])
            per_cpu_second = statistics.median(r["images_per_cpu_second"] for r in runs[way])
            mark = "met" if per_cpu_second >= PER_CORE_TARGET else "not met"
            print(f"{source:6s} {label:50s} {rate:7.1f} images/s = {rate / workers:6.1f} per worker; "
                  f"{per_cpu_second:6.1f} images per CPU-second (>= {PER_CORE_TARGET} per core: {mark})")


def run_clip(args: argparse.Namespace) -> None:
    """The encoder alone, the pipeline (on a GPU: resize on the device, then on the CPU) and the seed."""
    model = _model_dir(args.tiny_model)
    root = Path(tempfile.gettempdir()) / "photoseek-bench-ingest"
    folder = root / f"{'renditions' if args.width == 640 else 'jpegs'}-{args.images}"
    (make_renditions if args.width == 640 else make_folder)(folder, args.images)
    import torch

    gpu = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    both = gpu or args.both_resizes
    print(f"{args.images} JPEGs of {args.width} px wide, batch {args.batch_size}, {os.cpu_count()} cores, "
          f"device {args.device}{' (CUDA)' if gpu else ''}")
    names = ["alone", "ours", *(["ours_cpu"] if both else []), "seed"]
    labels = {"alone": "1 encoder alone", "ours": "2 pipeline end to end" + (" (device resize)" if both else ""),
              "ours_cpu": "2c pipeline, CPU resize", "seed": "3 seed notebook (CPU resize)"}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    # Interleaved rounds: a slow spell of a shared machine hits all alike; medians are compared.
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as work_text:
            work = Path(work_text)
            runs["alone"].append(in_child("encoder_alone", model, folder, args.device, args.batch_size))
            runs["ours"].append(
                in_child("pipeline", model, folder, args.device, args.batch_size, work / "a", True if both else None)
            )
            if both:
                runs["ours_cpu"].append(
                    in_child("pipeline", model, folder, args.device, args.batch_size, work / "b", False)
                )
            if not args.skip_seed:
                runs["seed"].append(in_child("seed_notebook", model, folder, args.device, args.batch_size, work))
        line = "   ".join(f"{labels[n]} {runs[n][-1]['images_per_second']:7.1f}" for n in names if runs[n])
        print(f"round {round_number}: {line} images/s")
    rate = {n: statistics.median(r["images_per_second"] for r in runs[n]) for n in names if runs[n]}
    peak = {n: max(r["peak_mb"] for r in runs[n]) for n in names if runs[n]}
    print(f"medians of {args.rounds} rounds:")
    for name in rate:
        print(f"{labels[name]:34s} {rate[name]:8.1f} images/s   peak memory {peak[name]:.0f} MB")
    alone, ours = rate["alone"], rate["ours"]
    print(f"ratio 2/1 = {ours / alone:.2f} (target >= 0.85)")
    if "seed" in rate:
        print(f"ratio 2/3 = {ours / rate['seed']:.2f} (target >= 2)")
    print(f"pipeline peak memory {peak['ours'] / 1024:.2f} GB (target < 3 GB)")
    if gpu:
        for name in ("alone", "ours", "ours_cpu"):
            mark = "met" if rate[name] >= PER_GPU_TARGET else "not met"
            print(f"{labels[name]}: {rate[name]:.0f} images/s per GPU (>= {PER_GPU_TARGET}: {mark})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", choices=["clip", "null"], default="clip",
                        help="clip: full-size random ViT-B/32; null: no model (everything but the model)")
    parser.add_argument("--part", choices=["speed", "check", "all"], default="speed",
                        help="speed; check: pixels and vectors against the processor; all: both")
    parser.add_argument("--images", type=int, default=256, help="JPEGs in the folder (default 256)")
    parser.add_argument("--width", type=int, choices=[640, 1080], default=None,
                        help="JPEG width (default 1080 for clip, 640 for null and check)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=None, help="decode workers for --encoder null (default: cores)")
    parser.add_argument("--sources", default="folder,http", help="for --encoder null: folder, http or both")
    parser.add_argument("--check-images", type=int, default=32, help="JPEGs in --part check")
    parser.add_argument("--skip-seed", action="store_true", help="leave out the seed notebook's way")
    parser.add_argument("--tiny-model", action="store_true",
                        help="a tiny random CLIP instead of the full-size ViT-B/32: a quick dry run of every step")
    parser.add_argument("--both-resizes", action="store_true",
                        help="run the pipeline with the device resize and the CPU resize (always on CUDA)")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="rounds of the measurements, interleaved; the medians are compared (default 3)",
    )
    args = parser.parse_args(argv)
    args.width = args.width or (640 if args.encoder == "null" else 1080)
    if args.part in ("check", "all"):
        folder = Path(tempfile.gettempdir()) / "photoseek-bench-ingest" / f"renditions-{args.check_images}"
        make_renditions(folder, args.check_images)
        check(_model_dir(args.tiny_model), folder, args.device, args.check_images)
    if args.part in ("speed", "all"):
        (run_null if args.encoder == "null" else run_clip)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
