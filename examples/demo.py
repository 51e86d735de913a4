"""``make demo``: ingest a small generated photo set into the embedded store, then search it.

The photos are coloured shapes in the Unsplash Lite dataset format (``photos.tsv`` plus an
images folder), so the demo runs the real job: the ingest of ``photoseek ingest unsplash``
(called as ``photoseek.ingest.run_ingest``) into Qdrant Edge under ``data/demo``, then
``photoseek info`` and a few ``photoseek search`` queries.

The model is the one ``PHOTOSEEK_MODEL__IMAGE`` / ``PHOTOSEEK_MODEL__TEXT`` name. When neither
is set and the default model is not in the local Hugging Face cache (an offline machine), a
tiny random CLIP is built and used, and the demo says so: the mechanics are real, the
rankings are noise. With the real ``clip-ViT-B-32`` the query "a red circle" finds red circles.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
COLORS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220), "yellow": (240, 210, 40)}
SHAPES = ("circle", "square", "triangle")
QUERIES = (["a red circle"], ["a blue square", "--where", "orientation=landscape"], ["a yellow triangle", "--json"])


def _draw(shape: str, color: tuple[int, int, int], size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    w, h = size
    r = min(w, h) // 3
    cx, cy = w // 2, h // 2
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=color)
    elif shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=color)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
    return image


def make_photos() -> tuple[Path, Path]:
    """Write the dataset folder and the images folder; returns both."""
    sys.path.insert(0, str(ROOT / "tests"))
    from photo_datasets import write_lite_dataset

    dataset, images = DEMO / "lite", DEMO / "images"
    shutil.rmtree(DEMO / "lite", ignore_errors=True)
    combos = [(c, s) for c in COLORS for s in SHAPES]
    data = write_lite_dataset(dataset, n_photos=len(combos) * 2, malformed=True, images_dir=images)
    # Replace the generated pictures with shapes whose names a CLIP model can find.
    for index, photo_id in enumerate(data.photo_ids):
        color, shape = combos[index % len(combos)]
        size = (640, 427) if index < len(combos) else (427, 640)
        _draw(shape, COLORS[color], size).save(images / f"{photo_id}.jpg", quality=90)
    return dataset, images


def choose_model() -> None:
    """Use the configured model, else a tiny random CLIP, saying so loudly."""
    if os.environ.get("PHOTOSEEK_MODEL__IMAGE") or os.environ.get("PHOTOSEEK_MODEL__TEXT"):
        return
    from photoseek.config.settings import DEFAULT_MODEL

    try:
        from huggingface_hub import snapshot_download

        snapshot_download(DEFAULT_MODEL, local_files_only=True)
        return
    except Exception:  # noqa: BLE001 - not cached: fall through to the explicit stand-in
        pass
    from tiny_clip import build_tiny_clip

    folder = build_tiny_clip(DEMO / "tiny-random-clip")
    bar = "!" * 78
    print(
        f"{bar}\n! {DEFAULT_MODEL} is not available offline and no model is configured,\n"
        f"! so this demo uses a TINY RANDOM CLIP built at {folder}.\n"
        "! Everything runs for real, but the rankings below are noise. For real results:\n"
        "!   PHOTOSEEK_MODEL__IMAGE=/path/to/clip-ViT-B-32 PHOTOSEEK_MODEL__TEXT=/path/to/clip-ViT-B-32 make demo\n"
        f"{bar}",
        flush=True,
    )
    os.environ["PHOTOSEEK_MODEL__IMAGE"] = os.environ["PHOTOSEEK_MODEL__TEXT"] = str(folder)


def ingest(dataset: Path, images: Path) -> None:
    """The ingest step as a Python call: what ``photoseek ingest unsplash`` runs, without the CLI."""
    from photoseek.config import load_settings
    from photoseek.ingest import failures_path, run_ingest
    from photoseek.ingest.ledger import Ledger
    from photoseek.ingest.sources.unsplash import UnsplashSource
    from photoseek.retrieval.encoder import ClipEncoder
    from photoseek.retrieval.store import open_store

    settings = load_settings()
    source = UnsplashSource(dataset, images, settings.ingest)
    encoder = ClipEncoder.from_settings(settings.model)
    store = open_store(settings.qdrant)
    try:
        report = run_ingest(
            source,
            store=store,
            encoder=encoder,
            ingest=settings.ingest,
            ledger=Ledger(failures_path(settings)),
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
            on_optimize=lambda n: print(f"building the vector index for {n} points...", flush=True),
        )
    finally:
        store.close()
    print(report.summary())
    report.write(DEMO / "report.json")


def main() -> int:
    from photoseek.cli import main as photoseek
    from photoseek.errors import PhotoseekError

    os.environ.setdefault("PHOTOSEEK_QDRANT__PATH", str(DEMO / "qdrant"))
    os.environ.setdefault("PHOTOSEEK_QDRANT__COLLECTION", "demo")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dataset, images = make_photos()
    choose_model()
    step = f"photoseek ingest unsplash {dataset} --images-dir {images}"
    print(f"\n$ {step}   # here: photoseek.ingest.run_ingest, the function behind it", flush=True)
    try:
        ingest(dataset, images)
    except PhotoseekError as exc:
        print(f"demo: the ingest failed: {exc}", file=sys.stderr)
        return 1
    steps = [
        ["info"],
        *(["search", *query, "--limit", "5"] for query in QUERIES),
        ["search", "a red circle", "--limit", "8", "--grid", str(DEMO / "results.jpg")],
    ]
    for step in steps:
        print(f"\n$ photoseek {' '.join(step)}", flush=True)
        code = photoseek(step)
        if code != 0:
            print(f"demo: `photoseek {' '.join(step)}` exited with {code}", file=sys.stderr)
            return code
    print(f"\nContact sheet of the last search: {DEMO / 'results.jpg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
