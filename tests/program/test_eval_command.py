"""``photoseek eval`` end to end with the tiny CLIP: real collections, files, JSON lines and plots.

The numbers of a random model mean nothing, so the tests check the mechanics and recompute the
exact-search figures independently (brute-force cosine ranking in numpy) to compare with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from photo_datasets import CONVERSION_COLUMNS, jpeg_bytes, photo_color, write_lite_dataset
from photoseek.cli import main
from photoseek.config.settings import ModelSettings, QdrantSettings
from photoseek.evaluation.metrics import query_metrics
from photoseek.retrieval import ImageSearch
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.store import edge as edge_module
from photoseek.retrieval.store.base import VectorStore
from photoseek.retrieval.store.edge import EdgeStore

N_PHOTOS = 20
# The settings ``--compare`` runs on the Unsplash evaluation, in order.
COMPARED = ["hnsw", "exact", "vector", "keyword", "hybrid-rrf", "hybrid-dbsf", "mmr-0.5", "collapse"]
# keyword -> indexes of the photos downloaded after searching it ("gone" ones are not stored)
CONVERSIONS = {
    "red sky": [0, 1, 2, 3, 3],
    "mountain lake": [4, 5, 6, "gone-1"],
    "city": [7, 8, 9, 10, 11, 12],
    "two only": [13, 14, "gone-2", "gone-3"],  # under --min-relevant 3 once the gone ones go
    "dog": [15, 16, 17],
}


def _env(tiny_clip_dir: Path, data: Path) -> dict[str, str]:
    return {
        "PHOTOSEEK_QDRANT__PATH": str(data),
        "PHOTOSEEK_QDRANT__COLLECTION": "unsplash",
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
        "PHOTOSEEK_MODEL__BATCH_SIZE": "8",
        "PHOTOSEEK_INGEST__DECODE_WORKERS": "1",
    }


@pytest.fixture(scope="module")
def unsplash(tmp_path_factory: pytest.TempPathFactory, tiny_clip_dir: Path) -> Iterator[dict[str, Any]]:
    """A Lite dataset with conversions, ingested once through the CLI into the embedded store."""
    tmp = tmp_path_factory.mktemp("eval-unsplash")
    data = write_lite_dataset(tmp / "lite", n_photos=N_PHOTOS, malformed=False, images_dir=tmp / "images")
    rows = [
        ["2021-02-03 04:05:06", "download", keyword, p if isinstance(p, str) else data.photo_ids[p], "u1", "IS"]
        for keyword, photos in CONVERSIONS.items()
        for p in photos
    ]
    (data.dir / "conversions.tsv000").write_text(
        "\t".join(CONVERSION_COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    env = _env(tiny_clip_dir, tmp / "qdrant")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["ingest", "unsplash", str(data.dir), "--images-dir", str(tmp / "images"), "--no-progress"]) == 0
    yield {"tmp": tmp, "data": data, "env": env}


@pytest.fixture
def configured(unsplash: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in unsplash["env"].items():
        monkeypatch.setenv(name, value)
    return unsplash


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _brute_force(
    store: VectorStore, encoder: ClipEncoder, texts: list[str], limit: int
) -> dict[str, tuple[list[str], list[float]]]:
    """Each text's exact ranking by cosine similarity, computed here without the store's search."""
    ids, vectors = [], []
    offset = None
    while True:
        page, offset = store.scroll(limit=256, offset=offset, with_vectors=True)
        for record in page:
            ids.append(record.payload["photo_id"])
            vectors.append(record.vector)
        if offset is None:
            break
    matrix = np.stack(vectors)
    rankings = {}
    for text, query in zip(texts, encoder.encode_text(texts), strict=True):
        scores = matrix @ query
        order = np.argsort(-scores, kind="stable")[:limit]
        rankings[text] = ([ids[i] for i in order], [float(scores[i]) for i in order])
    return rankings


def test_unsplash_eval_with_compare_writes_table_json_lines_and_plot(
    configured: dict[str, Any], tiny_clip_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = configured["tmp"]
    out = tmp / "out"
    code = main([
        "eval", "unsplash", str(configured["data"].dir), "--compare",
        "--json", str(out / "report.json"), "--plot", str(out / "curves.png"),
    ])
    assert code == 0
    screen = capsys.readouterr().out
    assert "unsplash evaluation of collection 'unsplash'" in screen
    assert "exact - hnsw" in screen and "band 1-9" in screen
    for name in COMPARED:
        assert any(line.startswith(name + " ") for line in screen.splitlines()), name
    assert "skipped" not in screen  # a new collection has the keyword side: every mode runs

    report = json.loads((out / "report.json").read_text())
    assert report["info"]["queries"] == 4  # "two only" has 2 stored photos, under --min-relevant 3
    assert report["info"]["pairs_outside_collection"] == 3
    assert report["info"]["dropped_min_relevant"] == 1
    assert report["info"]["photos_in_collection"] == N_PHOTOS
    assert [s["name"] for s in report["settings"]] == COMPARED
    assert report["skipped"] == []
    assert [s["options"] for s in report["settings"][2:]] == [
        {"mode": "vector"}, {"mode": "keyword"}, {"mode": "hybrid", "fusion": "rrf"},
        {"mode": "hybrid", "fusion": "dbsf"}, {"diversity": 0.5}, {"collapse_duplicates": True},
    ]
    for setting in report["settings"]:
        assert setting["queries"] == 4
        assert set(setting["overall"]) == {"recall@1", "recall@5", "recall@10", "recall@100", "hit@1", "hit@5",
                                           "hit@10", "hit@100", "mrr@10", "ndcg@10"}
        assert all(0.0 <= v <= 1.0 for v in setting["overall"].values())
        if setting["name"] in ("hnsw", "exact", "vector", "hybrid-rrf", "hybrid-dbsf", "mmr-0.5"):
            # Every relevant photo is among the 20 stored, and 100 > 20: recall@100 is 1 for every query
            # (the vector side brings every photo; keyword only those with the words, collapse drops some).
            assert setting["overall"]["recall@100"] == pytest.approx(1.0), setting["name"]
        assert len(setting["recall_curve"]) == 100
        assert setting["bands"]["1-9"]["queries"] == 4
    assert report["differences"][0]["text_model"] == str(tiny_clip_dir)

    lines = _lines(out / "report.queries.jsonl")  # beside the JSON report by default
    assert len(lines) == 4 * len(COMPARED)
    assert {line["setting"] for line in lines} == set(COMPARED)
    assert {line["query"] for line in lines} == {"red sky", "mountain lake", "city", "dog"}
    red = next(line for line in lines if line["query"] == "red sky")
    assert red["relevant"] == 4 and red["frequency"] == 5 and red["band"] == "1-9"
    assert len(red["top"]) == 10

    with Image.open(out / "curves.png") as plot:
        assert plot.format == "PNG" and plot.size == (800, 500)

    # The exact figures agree with a ranking computed here from the stored vectors.
    data = configured["data"]
    encoder = ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))  # type: ignore[call-arg]
    store = EdgeStore(QdrantSettings(path=Path(configured["env"]["PHOTOSEEK_QDRANT__PATH"]), collection="unsplash"))  # type: ignore[call-arg]
    try:
        rankings = _brute_force(store, encoder, list(CONVERSIONS), 100)
    finally:
        store.close()
    # Each compared mode ranks as the library does with that mode (the same queries, filter and depth).
    store = EdgeStore(QdrantSettings(path=Path(configured["env"]["PHOTOSEEK_QDRANT__PATH"]), collection="unsplash"))  # type: ignore[call-arg]
    with ImageSearch(store, encoder, owns_store=True) as library:
        for line in lines:
            options = next(s["options"] for s in report["settings"] if s["name"] == line["setting"])
            if not options:
                continue
            hits = library.search(line["query"], limit=100, source="unsplash", **options)
            assert line["top"] == [hit.photo_id for hit in hits][:10], (line["setting"], line["query"])
    # No photo's words hold these keywords ("Photo number 3", "kw3-best"...): keyword search finds
    # nothing, while hybrid still ranks every photo through its vector side.
    assert all(line["top"] == [] for line in lines if line["setting"] == "keyword")
    assert all(len(line["top"]) == 10 for line in lines if line["setting"].startswith("hybrid"))
    for line in (line for line in lines if line["setting"] == "exact"):
        relevant = {data.photo_ids[p] for p in CONVERSIONS[line["query"]] if isinstance(p, int)}
        ranked, scores = rankings[line["query"]]
        expected = query_metrics(ranked, relevant, [1, 5, 10, 100], scores=scores)
        assert {k: line[k] for k in expected} == pytest.approx(expected, abs=1e-5)
        assert line["top"] == ranked[:10]


def test_unsplash_eval_compare_lists_the_modes_a_vector_only_collection_cannot_run(
    configured: dict[str, Any], tmp_path: Path, tiny_clip_dir: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # The same points in a collection as built before the keyword side existed (no sparse vector).
    source = EdgeStore(QdrantSettings(path=Path(configured["env"]["PHOTOSEEK_QDRANT__PATH"]), collection="unsplash"))  # type: ignore[call-arg]
    try:
        records, _ = source.scroll(limit=1000, with_vectors=True)
        metadata = source.info().metadata
    finally:
        source.close()
    with monkeypatch.context() as patch:
        patch.setattr(edge_module.keywords, "edge_sparse_config", lambda: None)
        old = EdgeStore(QdrantSettings(path=tmp_path / "old", collection="unsplash"))  # type: ignore[call-arg]
        old.ensure_collection(len(records[0].vector), metadata=metadata)
    try:
        assert not old.has_keywords()
        old.upsert([r.id for r in records], [r.vector for r in records], [r.payload for r in records])
    finally:
        old.close()
    monkeypatch.setenv("PHOTOSEEK_QDRANT__PATH", str(tmp_path / "old"))
    code = main(["eval", "unsplash", str(configured["data"].dir), "--compare", "--json", str(tmp_path / "r.json")])
    assert code == 0
    screen = capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert [s["name"] for s in report["settings"]] == ["hnsw", "exact", "vector", "mmr-0.5", "collapse"]
    assert [s["name"] for s in report["skipped"]] == ["keyword", "hybrid-rrf", "hybrid-dbsf"]
    for skipped in report["skipped"]:
        assert "photoseek keywords add" in skipped["reason"]
        assert f"skipped {skipped['name']}: " in screen


def test_unsplash_eval_sampling_and_two_text_models(
    configured: dict[str, Any], other_tiny_clip_dir: Path, tiny_clip_dir: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = str(configured["data"].dir)
    # A text model from another space is refused unless explicitly allowed.
    assert main(["eval", "unsplash", dataset, "--text-model", str(other_tiny_clip_dir)]) == 1
    assert "text model" in capsys.readouterr().err

    monkeypatch.setenv("PHOTOSEEK_MODEL__ALLOW_UNPAIRED_TEXT_MODEL", "true")
    per_query = configured["tmp"] / "two.jsonl"
    code = main([
        "eval", "unsplash", dataset, "--queries", "2", "--seed", "3", "--min-relevant", "2",
        "--text-model", str(tiny_clip_dir), "--text-model", str(other_tiny_clip_dir), "--per-query", str(per_query),
    ])
    assert code == 0
    screen = capsys.readouterr().out
    assert f"hnsw · {other_tiny_clip_dir}" in screen
    lines = _lines(per_query)
    assert len(lines) == 4
    assert {line["text_model"] for line in lines} == {str(tiny_clip_dir), str(other_tiny_clip_dir)}
    first = [line["query"] for line in lines]
    assert main(["eval", "unsplash", dataset, "--queries", "2", "--seed", "3", "--min-relevant", "2",
                 "--text-model", str(tiny_clip_dir), "--text-model", str(other_tiny_clip_dir),
                 "--per-query", str(per_query)]) == 0
    assert [line["query"] for line in _lines(per_query)] == first  # seeded: the same sample again


def test_unsplash_eval_errors_are_one_clear_line(
    configured: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = str(configured["data"].dir)
    assert main(["eval", "unsplash", dataset, "--min-relevant", "50"]) == 1
    assert "lower --min-relevant" in capsys.readouterr().err
    assert main(["eval", "unsplash", dataset, "--plot", str(tmp_path / "curves.jpg")]) == 1
    assert ".png" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["eval", "unsplash", str(tmp_path / "empty")]) == 1
    assert "no conversions" in capsys.readouterr().err


# --------------------------------------------------------------------------- captions


def _caption_images(folder: Path, n: int) -> list[str]:
    names = []
    for index in range(n):
        name = f"img/{index:03d}.jpg"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(jpeg_bytes(40, 30, photo_color(index * 3)))
        names.append(name)
    return names


def test_captions_eval_builds_a_throwaway_collection_once_and_scores_every_caption(
    tiny_clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _env(tiny_clip_dir, tmp_path / "qdrant").items():
        monkeypatch.setenv(name, value)
    images = tmp_path / "images"
    names = _caption_images(images, 12)
    rows = [f"{name}#{j}\tphoto {i} caption {j}" for i, name in enumerate(names) for j in range(3)]
    rows.append("img/missing.jpg#0\ta picture that is not there")
    captions = tmp_path / "captions.tsv"
    captions.write_text("image\tcaption\n" + "\n".join(rows) + "\n", encoding="utf-8")

    args = ["eval", "captions", str(captions), "--images-dir", str(images), "--captions-per-image", "2",
            "--compare", "--json", str(tmp_path / "c.json"), "--plot", str(tmp_path / "c.png")]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "captions collection unsplash-captions-" in captured.err and "13 images, 25 captions" in captured.err
    assert "warning: 1 captions left out" in captured.out
    report = json.loads((tmp_path / "c.json").read_text())
    collection = report["collection"]
    assert collection.startswith("unsplash-captions-")
    assert report["info"]["captions"] == 24 and report["info"]["images"] == 12
    assert report["info"]["captions_cut_per_image"] == 12 and report["info"]["captions_dropped"] == 1
    assert report["info"]["ingest"]["indexed"] == 12 and report["info"]["ingest"]["failed"] == 1
    exact = next(s for s in report["settings"] if s["exact"])
    assert len(exact["recall_curve"]) == 10
    lines = _lines(tmp_path / "c.queries.jsonl")
    assert len(lines) == 48 and {line["image"] for line in lines} == set(names)

    # recall@k as the CLIP paper counts it, recomputed from the stored vectors.
    encoder = ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))  # type: ignore[call-arg]
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection=collection))  # type: ignore[call-arg]
    try:
        assert store.count() == 12
        texts = [f"photo {i} caption {j}" for i in range(12) for j in range(2)]
        rankings = _brute_force(store, encoder, texts, 10)
    finally:
        store.close()
    for k in (1, 5, 10):
        found = [names[int(t.split()[1])] in rankings[t][0][:k] for t in texts]
        assert exact["overall"][f"recall@{k}"] == pytest.approx(sum(found) / len(found), abs=1e-6)

    # A second run reuses the complete collection, then --drop deletes it.
    assert main([*args[:7], "--json", str(tmp_path / "again.json"), "--drop"]) == 0
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["collection"] == collection and "ingest" not in again["info"]
    assert again["settings"][0]["overall"] == report["settings"][0]["overall"]
    store = EdgeStore(QdrantSettings(path=tmp_path / "qdrant", collection=collection))  # type: ignore[call-arg]
    try:
        assert not store.collection_exists()
    finally:
        store.close()
