"""The Unsplash dataset source: payloads, joins, malformed rows and odd values, local images, shards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from photo_datasets import RELEASES, write_lite_dataset
from photoseek.config.settings import IngestSettings
from photoseek.ingest.sources import SourceFailure, SourceRecord, SourceWarning, UnsplashSource
from photoseek.ingest.sources.joins import INDEX_NAME, JoinIndex
from photoseek.ingest.sources.record import SourceItem
from photoseek.ingest.sources.unsplash import cdn_url
from photoseek.retrieval.schema import FIELDS_BY_PATH, point_id


def _split(items: list[SourceItem]) -> tuple[list[SourceRecord], list[SourceFailure]]:
    return ([i for i in items if isinstance(i, SourceRecord)], [i for i in items if isinstance(i, SourceFailure)])


def _warnings(items: list[SourceItem]) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for item in items:
        if isinstance(item, SourceWarning):
            found.setdefault(item.ref, set()).add((item.field, item.reason))
    return found


def _paths(payload: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and not path.endswith(".geo"):
            paths |= _paths(value, path + ".")
        else:
            paths.add(path)
    return paths


@pytest.mark.parametrize("release", RELEASES)
def test_every_photo_becomes_a_record_with_the_exact_payload_and_odd_values_become_warnings(
    tmp_path: Path, release: str
) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=24, release=release)
    items = list(UnsplashSource(data.dir))
    records, failures = _split(items)
    assert [r.photo_id for r in records] == data.photo_ids, "a photo with an odd value is still a photo"
    for record in records:
        assert record.payload == data.expected[record.photo_id]
        assert record.id == point_id(record.photo_id, "unsplash")
        assert record.local_path is None
        assert _paths(record.payload) <= set(FIELDS_BY_PATH), "payload names must come from the schema"
        assert all(v not in ("", None, [], {}) for v in record.payload.values())
    assert {f.ref: f.reason for f in failures} == {ref: "bad_row" for ref in data.bad_rows}
    for failure in failures:
        assert data.bad_rows[failure.ref] in failure.detail
        assert failure.stage == "source"
    assert _warnings(items) == data.warnings


def test_a_photos_warnings_come_just_before_its_record_and_name_it(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=12)
    items = list(UnsplashSource(data.dir))
    for position, item in enumerate(items):
        if isinstance(item, SourceWarning) and item.photo_id is not None:
            following = next(i for i in items[position:] if not isinstance(i, SourceWarning))
            assert isinstance(following, SourceRecord) and following.photo_id == item.photo_id
            assert item.id == following.id and item.origin is not None and item.detail
    swapped = next(i for i in items if isinstance(i, SourceWarning) and i.reason == "swapped")
    assert "stored swapped" in swapped.detail
    focal = next(i for i in items if isinstance(i, SourceWarning) and i.field == "exif_focal_length")
    assert "'24-70mm'" in focal.detail and "kept" in focal.detail
    joined = [i for i in items if isinstance(i, SourceWarning) and i.ref.startswith("keywords.")]
    assert {i.photo_id for i in joined} == {None, data.photo_ids[0]}, "a bad keyword row joins no photo"


def test_colours_are_ordered_by_coverage_and_topics_stay_apart_from_collections(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=4, malformed=False)
    first = next(r for r in UnsplashSource(data.dir) if isinstance(r, SourceRecord))
    assert first.payload["colors"] == ["green", "grey", "black"]  # 62%, 20%, 5%: not file order
    assert first.payload["color_details"][0] == {
        "keyword": "green", "hex": "#22AA33", "rgb": [34, 170, 51], "coverage": 62.0, "score": 0.9,
    }
    assert first.payload["collections"] == ["Nature", "Set 0"]
    assert first.payload["topics"] == ["Nature"]
    assert first.payload["landmark"] == {"name": "Hallgrimskirkja", "geo": {"lat": 64.1417, "lon": -21.9266},
                                         "confidence": 0.87}
    assert first.payload["blur_hash"] == "LEHLe6WB2y"
    assert first.payload["keywords"] == ["kw0-best", "kw0-second", "shared", "kw0-user", "kw0-ai3"]
    assert first.payload["keyword_details"][0] == {
        "keyword": "kw0-best", "ai_service_1": 90.1, "ai_service_2": 80.0, "ai_service_3": "confirmed",
    }
    assert first.payload["keyword_details"][3:] == [
        {"keyword": "kw0-user", "user": "photographer"}, {"keyword": "kw0-ai3", "ai_service_3": "suggested"},
    ]


def test_a_byte_order_mark_and_csv_part_names_are_read(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=8, bom=True, extension="csv")
    assert (data.dir / "photos.csv000").read_bytes().startswith(b"\xef\xbb\xbfphoto_id\t")
    items = list(UnsplashSource(data.dir))
    records, failures = _split(items)
    assert [r.photo_id for r in records] == data.photo_ids
    assert all(r.payload == data.expected[r.photo_id] for r in records)
    assert sorted(f.ref for f in failures) == sorted(data.bad_rows)
    assert _warnings(items) == data.warnings


def test_an_unrecognised_part_name_is_reported_by_name(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=4, malformed=False, split=False)
    (data.dir / "photos.tsv001.bak").write_text("photo_id\nXYZ\n", encoding="utf-8")
    (data.dir / "colours.tsv000").write_text("photo_id\n", encoding="utf-8")
    (data.dir / "README.md").write_text("the dataset's own readme\n", encoding="utf-8")
    items = list(UnsplashSource(data.dir))
    named = {i.ref: i.reason for i in items if isinstance(i, SourceWarning)}
    assert named == {"photos.tsv001.bak": "unrecognised_part", "colours.tsv000": "unrecognised_part"}
    assert len(_split(items)[0]) == 4


def test_empty_optional_tables_are_fine(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=3, malformed=False)
    (data.dir / "keywords.tsv000").write_bytes(b"")  # not even a header
    (data.dir / "colors.tsv000").write_text("photo_id\thex\tred\tgreen\tblue\tkeyword\tcoverage\tscore\n")
    (data.dir / "collections.tsv000").unlink()
    items = list(UnsplashSource(data.dir))
    records, failures = _split(items)
    assert len(records) == 3 and not failures and not _warnings(items)
    assert not {"keywords", "colors", "collections", "topics"} & set(records[0].payload)


def test_download_url_carries_the_cdn_rendition_parameters(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=3, malformed=False)
    ingest = IngestSettings(image_width=512, image_quality=70)
    record = next(iter(UnsplashSource(data.dir, ingest=ingest)))
    assert isinstance(record, SourceRecord)
    assert record.url == f"https://images.unsplash.com/photos/{record.photo_id}?w=512&fm=jpg&q=70"
    merged = cdn_url("https://images.unsplash.com/photo-1?ixid=abc&w=4000&fm=png", ingest)
    assert merged == "https://images.unsplash.com/photo-1?ixid=abc&w=512&fm=jpg&q=70"


def test_local_images_are_used_when_present(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=6, malformed=False, images_dir=tmp_path / "img")
    (tmp_path / "img" / f"{data.photo_ids[2]}.jpg").unlink()
    records = list(UnsplashSource(data.dir, images_dir=tmp_path / "img"))
    local = {r.photo_id: r.local_path for r in records if isinstance(r, SourceRecord)}
    assert local[data.photo_ids[0]] == tmp_path / "img" / f"{data.photo_ids[0]}.jpg"
    assert local[data.photo_ids[2]] is None
    assert next(r for r in records if r.photo_id == data.photo_ids[2]).url.startswith("https://")


def test_shards_partition_the_records_stably(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=40)
    whole = list(UnsplashSource(data.dir))
    shards = [list(UnsplashSource(data.dir, shard=(k, 3))) for k in range(3)]
    ids = [sorted(r.id for r in part if isinstance(r, SourceRecord)) for part in shards]
    assert sorted(i for part in ids for i in part) == sorted(r.id for r in whole if isinstance(r, SourceRecord))
    assert all(ids), "40 photos over 3 shards: none may be empty"
    failures = [f.ref for part in shards for f in part if isinstance(f, SourceFailure)]
    assert sorted(failures) == sorted(data.bad_rows), "each bad row is reported by exactly one shard"
    assert ids[1] == sorted(r.id for r in UnsplashSource(data.dir, shard=(1, 3)) if isinstance(r, SourceRecord))


def test_limit_stops_after_that_many_records(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=20)
    records, _ = _split(list(UnsplashSource(data.dir, limit=5)))
    assert [r.photo_id for r in records] == data.photo_ids[:5]
    assert records[0].payload["keywords"][0] == "kw0-best"


def test_join_index_is_built_once_and_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=5, malformed=False)
    index = JoinIndex(data.dir)
    assert index.path == data.dir / INDEX_NAME
    assert index.ensure_built() is True
    assert JoinIndex(data.dir).ensure_built() is False
    with open(data.dir / "keywords.tsv000", "a", encoding="utf-8") as handle:
        handle.write(f"{data.photo_ids[0]}\tzebra\t99.9\t\tf\t\tf\tf\n")
    assert JoinIndex(data.dir).is_current() is False
    joined = JoinIndex(data.dir).lookup([data.photo_ids[0]])
    assert joined[data.photo_ids[0]].keywords[0] == "zebra"


def test_read_only_dataset_keeps_its_index_in_the_cache_dir(tmp_path: Path) -> None:
    data = write_lite_dataset(tmp_path / "lite", n_photos=4, malformed=False)
    os.chmod(data.dir, 0o555)
    try:
        if os.access(data.dir, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        records = list(UnsplashSource(data.dir, cache_dir=tmp_path / "cache"))
        assert len(records) == 4
        assert list((tmp_path / "cache").glob("*.sqlite3"))
    finally:
        os.chmod(data.dir, 0o755)


def test_gzipped_parts_and_a_missing_dataset(tmp_path: Path) -> None:
    import gzip

    data = write_lite_dataset(tmp_path / "lite", n_photos=6, malformed=False, split=False)
    raw = (data.dir / "photos.tsv000").read_bytes()
    (data.dir / "photos.tsv000").unlink()
    (data.dir / "photos.tsv000.gz").write_bytes(gzip.compress(raw))
    assert [r.photo_id for r in UnsplashSource(data.dir)] == data.photo_ids
    with pytest.raises(FileNotFoundError, match="photos.tsv"):
        UnsplashSource(tmp_path)
    (data.dir / "photos.tsv000.gz").rename(data.dir / "photos.tsv000.gz.part")
    with pytest.raises(FileNotFoundError, match=r"photos\.tsv000\.gz\.part is not named photos\.tsv"):
        UnsplashSource(data.dir)
