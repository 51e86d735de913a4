"""``photoseek search --mode / --fusion / --prefetch`` with the tiny CLIP on Qdrant Edge, and the parser's flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoseek.cli import build_parser, main
from photoseek.commands import search as search_command
from photoseek.config import ModelSettings, QdrantSettings
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import record_identity
from photoseek.retrieval.modes import FUSIONS, SEARCH_MODES
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.store import edge as edge_module
from photoseek.retrieval.store.edge import EdgeStore

# photo_id -> (colour, description, keywords, country)
PHOTOS: dict[str, tuple[tuple[int, int, int], str, list[str], str]] = {
    "harbour": ((30, 40, 220), "boats in a harbour at dawn", ["boat", "sea"], "Norway"),
    "volcano": ((220, 20, 20), "lava field at night", ["volcano", "lava"], "Iceland"),
    "glacier": ((245, 245, 245), "a glacier under clouds", ["ice", "hiking"], "Iceland"),
    "market": ((240, 140, 20), "a busy market street", ["food", "people"], "Japan"),
}


def _build(folder: Path, encoder: ClipEncoder) -> None:
    store = EdgeStore(QdrantSettings(path=folder, collection="photos"))  # type: ignore[call-arg]
    try:
        store.ensure_collection(encoder.dimension)
        record_identity(store, encoder)
        pictures = [Image.new("RGB", (48, 36), colour) for colour, *_ in PHOTOS.values()]
        payloads = [
            {"source": "unsplash", "photo_id": name, "description": text, "keywords": words,
             "location": {"country": country}}
            for name, (_, text, words, country) in PHOTOS.items()
        ]
        store.upsert([point_id(name) for name in PHOTOS], encoder.encode_images(pictures), payloads)
    finally:
        store.close()


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder.from_settings(ModelSettings(image=str(tiny_clip_dir), text=str(tiny_clip_dir), device="cpu"))  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, encoder: ClipEncoder) -> Path:
    folder = tmp_path_factory.mktemp("cli-modes") / "qdrant"
    _build(folder, encoder)
    return folder


def _configure(monkeypatch: pytest.MonkeyPatch, folder: Path, tiny_clip_dir: Path) -> None:
    for name, value in {
        "PHOTOSEEK_QDRANT__PATH": str(folder),
        "PHOTOSEEK_QDRANT__COLLECTION": "photos",
        "PHOTOSEEK_MODEL__IMAGE": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__TEXT": str(tiny_clip_dir),
        "PHOTOSEEK_MODEL__DEVICE": "cpu",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def configured(data: Path, tiny_clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _configure(monkeypatch, data, tiny_clip_dir)
    return data


def _lines(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(argv) == 0, capsys.readouterr().err
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


# --- the parser (no model, no store) -------------------------------------------------------------


def test_the_cli_offers_the_library_s_modes_and_fusions() -> None:
    assert search_command.SEARCH_MODES == SEARCH_MODES
    assert search_command.FUSIONS == FUSIONS


def test_help_explains_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--mode {vector,keyword,hybrid}", "--fusion {rrf,dbsf}", "--prefetch N", "BM25",
                  "reciprocal rank fusion", "PHOTOSEEK_RETRIEVAL__MODE", "--collapse-threshold COSINE"):
        assert words in text


@pytest.mark.parametrize(
    ("argv", "text", "collapse", "threshold"),
    [
        (["--collapse-duplicates", "a dog"], "a dog", True, None),
        (["a dog", "--collapse-duplicates"], "a dog", True, None),
        (["--collapse-threshold", "0.9", "a dog"], "a dog", False, 0.9),
        (["--collapse-duplicates", "--mode", "keyword", "a dog"], "a dog", True, None),
    ],
)
def test_collapse_duplicates_takes_no_value(
    argv: list[str], text: str, collapse: bool, threshold: float | None
) -> None:
    args = build_parser().parse_args(["search", *argv])
    assert (args.text, args.collapse_duplicates, args.collapse_threshold) == (text, collapse, threshold)


def test_an_unknown_mode_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["search", "x", "--mode", "fuzzy"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fuzzy'" in capsys.readouterr().err


# --- searching --------------------------------------------------------------------------------------


def test_keyword_mode_finds_a_word_only_the_metadata_holds(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "lava" is in one photo's words; a solid red square says nothing of lava to a random CLIP.
    hits = _lines(["search", "lava", "--mode", "keyword", "--json"], capsys)
    assert [h["photo_id"] for h in hits] == ["volcano"]
    assert hits[0]["rank"] == 1 and hits[0]["score"] > 0
    assert len(_lines(["search", "lava", "--mode", "vector", "--json"], capsys)) == 4


def test_hybrid_with_each_fusion_and_filters(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fusion in ("rrf", "dbsf"):
        hits = _lines(["search", "glacier ice", "--mode", "hybrid", "--fusion", fusion, "--json"], capsys)
        if fusion == "rrf":  # first on the keyword side (its only match): 1/61 + its vector share beats any other
            assert hits[0]["photo_id"] == "glacier"
        assert sorted(h["photo_id"] for h in hits) == sorted(PHOTOS)  # the vector side brings the others
        filtered = _lines(["search", "glacier ice", "--mode", "hybrid", "--fusion", fusion, "--prefetch", "20",
                           "--where", "country=Iceland", "--json"], capsys)
        assert sorted(h["photo_id"] for h in filtered) == ["glacier", "volcano"]
    keyword = _lines(["search", "market food", "--mode", "keyword", "--where", "country=Iceland", "--json"], capsys)
    assert keyword == []


def test_pages_in_keyword_mode_follow_one_list(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = [h["photo_id"] for h in _lines(["search", "a in at glacier market boats lava", "--mode", "keyword",
                                            "--json"], capsys)]
    assert sorted(whole) == sorted(PHOTOS)
    pages = [
        h
        for offset in (0, 2)
        for h in _lines(["search", "a in at glacier market boats lava", "--mode", "keyword", "--limit", "2",
                         "--offset", str(offset), "--json"], capsys)
    ]
    # One list cut in two: every photo once, ranks 1-4, scores never rising (equal ones may swap).
    assert sorted(h["photo_id"] for h in pages) == sorted(PHOTOS)
    assert [h["rank"] for h in pages] == [1, 2, 3, 4]
    scores = [h["score"] for h in pages]
    assert scores == sorted(scores, reverse=True)


def test_mode_options_need_a_text(configured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / "q.png"
    Image.new("RGB", (32, 32), (200, 0, 0)).save(picture)
    assert main(["search", "--image", str(picture), "--mode", "keyword"]) == 1
    assert "--mode keyword works with a text search" in capsys.readouterr().err
    assert main(["search", "--similar", "volcano", "--fusion", "dbsf"]) == 1
    assert "--fusion and --prefetch work with a text search" in capsys.readouterr().err
    assert main(["search", "--image", str(picture), "--mode", "vector", "--json"]) == 0  # vector is what images do
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_the_library_s_checks_are_one_clear_line(configured: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "lava", "--mode", "hybrid", "--prefetch", "3", "--limit", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("photoseek: error: ") and "prefetch" in err and len(err.strip().splitlines()) == 1


def test_a_collection_without_the_keyword_side(
    tmp_path: Path, encoder: ClipEncoder, tiny_clip_dir: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Built as before the keyword side existed: the engine's collection without the sparse vector.
    with monkeypatch.context() as patch:
        patch.setattr(edge_module.keywords, "edge_sparse_config", lambda: None)
        _build(tmp_path / "qdrant", encoder)
    _configure(monkeypatch, tmp_path / "qdrant", tiny_clip_dir)
    for mode in ("keyword", "hybrid"):
        assert main(["search", "lava", "--mode", mode]) == 1
        assert "photoseek keywords add" in capsys.readouterr().err
    assert len(_lines(["search", "lava", "--mode", "vector", "--json"], capsys)) == 4
