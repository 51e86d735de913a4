"""The captions evaluation: text->image recall@k on a captioned image set, as the CLIP paper reports it.

Each caption is a query whose one relevant item is its image; recall@k is the share of captions
whose image is among the top k images (over every caption, so an image with five captions
counts five times). On the Flickr30k 1k test split (5,000 captions) and the COCO 5k test split
(25,000 captions) this is the "image retrieval" / "text-to-image" R@1/5/10 of the CLIP paper's
Table 13 and of clip_benchmark.

Captions come from a TSV/CSV of image file and caption (a header is optional; Flickr30k's
``results_20130124.token`` with ``image.jpg#n`` works as it is) or from the Karpathy split files
``dataset_flickr30k.json`` / ``dataset_coco.json`` with ``split``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from photoseek.errors import SourceError
from photoseek.evaluation.report import EvalReport
from photoseek.evaluation.runner import JudgedQuery, Setting, run_setting
from photoseek.ingest.sources.record import SourceFailure, SourceRecord
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store.base import VectorStore

KS = (1, 5, 10)
COLUMNS = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
SOURCE = "captions"

IMAGE_COLUMNS = ("image", "image_file", "image_name", "file", "filename", "file_name", "path", "image_path")
CAPTION_COLUMNS = ("caption", "text", "sentence", "comment", "description", "raw")
_SUFFIX = re.compile(r"#\d+$")  # Flickr30k token files name a caption "1000092795.jpg#0"


@dataclass
class Caption:
    """One caption and the image file (relative to the images folder) it describes."""

    image: str
    text: str


@dataclass
class CaptionSet:
    """The captions of one file and what was left out reading it."""

    captions: list[Caption]
    images: list[str]
    bad_rows: int = 0
    cut_per_image: int = 0
    digest: str = ""
    notes: list[str] = field(default_factory=list)


def _karpathy(data: dict, split: str | None) -> Iterator[Caption]:
    for entry in data.get("images", []):
        if split and entry.get("split") != split:
            continue
        name = "/".join(p for p in (entry.get("filepath"), entry.get("filename")) if p)
        for sentence in entry.get("sentences", []):
            yield Caption(name, str(sentence.get("raw") or " ".join(sentence.get("tokens", []))))


def _table(text: str, suffix: str) -> tuple[list[list[str]], int]:
    first = text.split("\n", 1)[0]
    if suffix == ".csv":
        delimiter = "|" if first.count("|") > first.count(",") else ","
    else:
        delimiter = "\t" if "\t" in first else ("|" if "|" in first else ",")
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if not rows:
        return [], 0
    names = [cell.lower() for cell in rows[0]]
    image_at = next((names.index(n) for n in IMAGE_COLUMNS if n in names), None)
    caption_at = next((names.index(n) for n in CAPTION_COLUMNS if n in names), None)
    if image_at is not None and caption_at is not None:
        rows = rows[1:]
    else:
        image_at, caption_at = 0, len(rows[0]) - 1
    good: list[list[str]] = []
    bad = 0
    for row in rows:
        if len(row) <= max(image_at, caption_at) or not row[image_at] or not row[caption_at]:
            bad += 1
        else:
            good.append([_SUFFIX.sub("", row[image_at]), row[caption_at]])
    return good, bad


def read_captions(path: Path, *, split: str | None = None, per_image: int | None = None) -> CaptionSet:
    """Read a captions file.

    Args:
        path: a TSV/CSV (image, caption; optional header) or a Karpathy split JSON file.
        split: with a Karpathy JSON file, the split to use (``test``); ignored for tables.
        per_image: keep at most this many captions per image (COCO test images have 5 to 7;
            the usual 25,000-caption protocol keeps the first 5).

    Raises:
        SourceError: the file is missing, unreadable or holds no caption.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read the captions file {path}: {exc.strerror or exc}") from None
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    bad = 0
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path} is not valid JSON ({exc}); give a TSV/CSV or a Karpathy split file") from None
        if not isinstance(data, dict) or "images" not in data:
            raise SourceError(f"{path} is not a Karpathy split file (no 'images' list)")
        captions = [c for c in _karpathy(data, split or "test") if c.text.strip()]
    else:
        rows, bad = _table(text, path.suffix.lower())
        captions = [Caption(image, caption) for image, caption in rows]
    kept: list[Caption] = []
    seen: dict[str, int] = {}
    cut = 0
    for caption in captions:
        count = seen.get(caption.image, 0)
        if per_image is not None and count >= per_image:
            cut += 1
            continue
        seen[caption.image] = count + 1
        kept.append(caption)
    if not kept:
        raise SourceError(f"{path} holds no caption: expected rows of image file and caption")
    digest = hashlib.sha256(raw + f"|{split}".encode()).hexdigest()
    return CaptionSet(kept, list(seen), bad_rows=bad, cut_per_image=cut, digest=digest)


def collection_name(base: str, captions: CaptionSet, images_dir: Path, image_fingerprint: str) -> str:
    """The throw-away collection of a captions file: ``<base>-captions-<hash>``.

    The hash covers the file, the images folder and the image model, so another set, another
    folder or another model never reuses a collection built for something else.
    """
    key = f"{captions.digest}|{images_dir.resolve()}|{image_fingerprint}"
    return f"{base}-captions-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def caption_source(images: Sequence[str], images_dir: Path) -> Iterator[SourceRecord | SourceFailure]:
    """The images of a caption set as ingest records; a missing file is a recorded failure."""
    for name in images:
        local = images_dir / name
        if not local.is_file():
            yield SourceFailure(ref=name, reason="missing_file", detail=f"{local} does not exist", photo_id=name)
            continue
        yield SourceRecord(
            id=point_id(name, SOURCE),
            photo_id=name,
            source=SOURCE,
            payload={"photo_id": name, "path": str(local)},
            local_path=local,
        )


def evaluate_captions(
    caption_set: CaptionSet, settings: Sequence[Setting], *, ks: Sequence[int] = KS
) -> EvalReport:
    """Score text->image retrieval of every caption whose image is in the collection.

    Args:
        caption_set: the captions (``read_captions``).
        settings: the ways of searching to compare (they share the captions collection).
        ks: the recall cut-offs.

    Raises:
        SourceError: none of the images is in the collection.
    """
    store = settings[0].search.store
    stored = stored_images(store, caption_set.images)
    queries = [
        JudgedQuery(c.text, frozenset([c.image]), extra={"image": c.image})
        for c in caption_set.captions
        if c.image in stored
    ]
    if not queries:
        raise SourceError(f"none of the {len(caption_set.images)} images is in collection {store.collection!r}")
    dropped = len(caption_set.captions) - len(queries)
    results = [run_setting(s, queries, ks=ks, key=lambda hit: hit.photo_id) for s in settings]
    notes = [
        (f"{len(queries)} captions of {len(stored)} images; recall@k = share of captions whose image "
        "is in the top k (text->image, as in the CLIP paper)"),
    ]
    if dropped:
        notes.append(f"warning: {dropped} captions left out because their image could not be ingested; "
                     "figures are not comparable to published ones until every image is in")
    info = {
        "captions": len(queries),
        "images": len(stored),
        "images_listed": len(caption_set.images),
        "captions_dropped": dropped,
        "captions_cut_per_image": caption_set.cut_per_image,
        "bad_rows": caption_set.bad_rows,
        "ks": list(ks),
    }
    return EvalReport("captions", store.collection, list(COLUMNS), results, info=info, notes=notes)


def stored_images(store: VectorStore, images: Sequence[str]) -> set[str]:
    """Which of ``images`` are in the captions collection (looked up by point id)."""
    by_id = {point_id(name, SOURCE): name for name in images}
    ids = list(by_id)
    found: set[str] = set()
    for begin in range(0, len(ids), 1024):
        found.update(by_id[i] for i in store.existing_ids(ids[begin : begin + 1024]))
    return found
