"""Images/s of the standard image path against the fast path, on a full-size ViT-B/32 CLIP.

The model has random weights (no download here; the cost is that of real weights). Both
paths start from the same JPEG bytes and end with L2-normalised vectors, with the same
number of CPU cores:

- standard: decode in this process, ``SentenceTransformer.encode(pil_images)`` (the Hugging
  Face processor runs here, on one core, between the model's batches);
- fast: a process pool decodes and runs ``clip_resize_crop`` while the model works on the
  previous batch; the encoder takes uint8 batches (``ClipEncoder.encode_pixels``).

Run: ``python benchmarks/encoder.py [--images 128] [--cores N] [--device auto]``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

MODEL_DIR = Path(tempfile.gettempdir()) / "photoseek-bench-clip-vit-b-32-random-words"

# Words the benchmark model's tokenizer keeps whole, as real CLIP's 49,408-token vocabulary
# does: a query then costs the text tower one token a word, not one a character.
QUERY_WORDS = (
    "a an the of in on at and with by from to for near under over is are photo picture image "
    "dog dogs cat cats beach snow mountain mountains city night forest car cars food river bridge "
    "sunset sunrise street people person woman man child coffee red blue green yellow black white "
    "bicycle bike tree trees sky sea ocean lake house building road winter summer autumn spring "
    "flower flowers bird birds horse water rain fog light dark old new small big number"
).split() + [str(n) for n in range(1000)]


def build_model(folder: Path) -> Path:
    """Save a ViT-B/32 CLIP (the openai/clip-vit-base-patch32 architecture) with random weights, once."""
    if (folder / "processor_config.json").exists():
        return folder
    import torch
    from transformers import CLIPConfig, CLIPModel

    from tiny_clip import BOS, EOS, _vocab, save_clip_folder

    vocab = _vocab()
    # CLIPConfig's defaults are ViT-B/32: vision 768 wide, 12 layers, patch 32, 224 px; text 512
    # wide, 12 layers; projection 512. Only the special token ids follow the small tokenizer.
    ids = {"bos_token_id": vocab[BOS], "eos_token_id": vocab[EOS], "pad_token_id": vocab[EOS]}
    config = CLIPConfig(text_config=ids)
    torch.manual_seed(0)
    save_clip_folder(folder, CLIPModel(config).eval(), words=QUERY_WORDS)
    return folder


def make_jpegs(count: int) -> list[bytes]:
    """JPEGs the size of the CDN renditions ingest asks for (640 px wide), in both orientations."""
    rng = np.random.default_rng(0)
    jpegs = []
    for index in range(count):
        width, height = (640, 427) if index % 3 else (427, 640)
        y, x = np.mgrid[0:height, 0:width]
        freq = rng.uniform(0.005, 0.05, size=3)
        pixels = np.stack([127 + 120 * np.sin(freq[c] * (x + (c + 1) * y)) for c in range(3)], axis=-1)
        pixels += rng.normal(0, 12, size=pixels.shape)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
        jpegs.append(buffer.getvalue())
    return jpegs


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _prepare(data: bytes, size: int) -> np.ndarray:
    from photoseek.retrieval.preprocess import clip_resize_crop

    return clip_resize_crop(_decode(data), size)


def standard_path(encoder, jpegs: list[bytes]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Decode here, then ``SentenceTransformer.encode`` (its processor runs in this process)."""
    images = [_decode(data) for data in jpegs]
    vectors = encoder.image_model.encode(images, batch_size=encoder.batch_size, convert_to_numpy=True)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fast_path(encoder, jpegs: list[bytes], pool: ProcessPoolExecutor) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Workers decode and crop to uint8 while the model encodes the previous batch."""
    size = encoder.image_size
    arrays = pool.map(_prepare, jpegs, [size] * len(jpegs), chunksize=4)
    out, batch = [], []
    for array in arrays:
        batch.append(array)
        if len(batch) == encoder.batch_size:
            out.append(encoder.encode_pixels(np.stack(batch)))
            batch = []
    if batch:
        out.append(encoder.encode_pixels(np.stack(batch)))
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    """Build the model, time both paths, print images/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128, help="images per path")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="CPU cores for each path")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from photoseek.retrieval.encoder import ClipEncoder

    torch.set_num_threads(args.cores)
    started = time.perf_counter()
    folder = build_model(MODEL_DIR)
    encoder = ClipEncoder(str(folder), device=args.device, batch_size=args.batch_size)
    print(
        f"model: ViT-B/32 CLIP, random weights, {encoder.dimension}-d, {encoder.image_size} px, "
        f"{encoder.device}/{encoder.precision}, batch {encoder.batch_size}, {args.cores} CPU cores "
        f"(ready in {time.perf_counter() - started:.1f} s)"
    )
    jpegs = make_jpegs(args.images)
    warm = jpegs[: min(len(jpegs), encoder.batch_size)]

    standard_path(encoder, warm)
    started = time.perf_counter()
    standard = standard_path(encoder, jpegs)
    standard_s = time.perf_counter() - started

    with ProcessPoolExecutor(max_workers=args.cores) as pool:
        fast_path(encoder, warm, pool)
        started = time.perf_counter()
        fast = fast_path(encoder, jpegs, pool)
        fast_s = time.perf_counter() - started

    cosine = float((standard * fast).sum(axis=1).min())
    print(f"images: {len(jpegs)} JPEGs 640x427 / 427x640")
    print(f"standard path (SentenceTransformer.encode on PIL images): {len(jpegs) / standard_s:8.1f} images/s")
    print(f"fast path (pool of {args.cores} workers + encode_pixels):     {len(jpegs) / fast_s:8.1f} images/s")
    print(f"ratio fast/standard: {standard_s / fast_s:.2f}x   (lowest cosine between the paths: {cosine:.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
