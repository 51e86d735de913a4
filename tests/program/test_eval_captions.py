"""Reading captions files: TSV/CSV with or without a header, Flickr30k tokens, Karpathy split JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from photoseek.errors import SourceError
from photoseek.evaluation.captions import (
    caption_source,
    collection_name,
    read_captions,
)
from photoseek.ingest.sources.record import SourceFailure, SourceRecord
from photoseek.retrieval.schema import point_id


def test_flickr_token_file_without_header(tmp_path: Path) -> None:
    path = tmp_path / "results_20130124.token"
    path.write_text("1.jpg#0\tA dog runs .\n1.jpg#1\tA brown dog .\n2.jpg#0\tTwo people .\n\n3.jpg#0\t\n")
    result = read_captions(path)
    assert [(c.image, c.text) for c in result.captions] == [
        ("1.jpg", "A dog runs ."), ("1.jpg", "A brown dog ."), ("2.jpg", "Two people ."),
    ]
    assert result.images == ["1.jpg", "2.jpg"]
    assert result.bad_rows == 1  # the row with an empty caption


def test_csv_with_a_header_in_any_column_order_and_pipe_separated(tmp_path: Path) -> None:
    csv_path = tmp_path / "captions.csv"
    csv_path.write_text('id,caption,filename\n7,"a red car, parked",cars/a.jpg\n8,a bus,cars/b.jpg\n')
    assert [(c.image, c.text) for c in read_captions(csv_path).captions] == [
        ("cars/a.jpg", "a red car, parked"), ("cars/b.jpg", "a bus"),
    ]
    piped = tmp_path / "results.csv"
    piped.write_text("image_name| comment_number| comment\n1.jpg| 0| A dog .\n1.jpg| 1| A pet .\n")
    assert [(c.image, c.text) for c in read_captions(piped).captions] == [("1.jpg", "A dog ."), ("1.jpg", "A pet .")]


def test_karpathy_split_file_and_captions_per_image(tmp_path: Path) -> None:
    data = {"images": [
        {"filepath": "val2014", "filename": "a.jpg", "split": "test",
         "sentences": [{"raw": f"caption {i}"} for i in range(7)]},
        {"filepath": "val2014", "filename": "b.jpg", "split": "train", "sentences": [{"raw": "train only"}]},
        {"filename": "c.jpg", "split": "test", "sentences": [{"tokens": ["a", "cat"]}]},
    ]}
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(data))
    result = read_captions(path, per_image=5)
    assert result.images == ["val2014/a.jpg", "c.jpg"]
    assert [c.text for c in result.captions] == [f"caption {i}" for i in range(5)] + ["a cat"]
    assert result.cut_per_image == 2
    train = read_captions(path, split="train")
    assert [c.text for c in train.captions] == ["train only"]
    assert train.digest != result.digest  # another split is another collection


def test_collection_name_changes_with_the_file_folder_and_model(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("a.jpg\tone\n")
    first = read_captions(path)
    name = collection_name("photos", first, tmp_path, "fp1")
    assert name.startswith("photos-captions-")
    assert name == collection_name("photos", read_captions(path), tmp_path, "fp1")
    assert name != collection_name("photos", first, tmp_path / "other", "fp1")
    assert name != collection_name("photos", first, tmp_path, "fp2")
    path.write_text("a.jpg\ttwo\n")
    assert name != collection_name("photos", read_captions(path), tmp_path, "fp1")


def test_caption_source_records_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jpg").write_bytes(b"not checked here")
    items = list(caption_source(["sub/a.jpg", "gone.jpg"], tmp_path))
    record, failure = items
    assert isinstance(record, SourceRecord) and isinstance(failure, SourceFailure)
    assert record.id == point_id("sub/a.jpg", "captions") and record.photo_id == "sub/a.jpg"
    assert record.payload == {"photo_id": "sub/a.jpg", "path": str(tmp_path / "sub" / "a.jpg")}
    assert failure.reason == "missing_file" and failure.ref == "gone.jpg"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.tsv", "", "holds no caption"),
        ("bad.json", "{not json", "not valid JSON"),
        ("other.json", "[1, 2]", "not a Karpathy split file"),
    ],
)
def test_unusable_files_fail_clearly(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(SourceError, match=message):
        read_captions(tmp_path / name)
    with pytest.raises(SourceError, match="cannot read"):
        read_captions(tmp_path / "absent.tsv")
