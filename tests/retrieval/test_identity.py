"""The model identity guard on every store backend, and the text/image pairing table."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoseek.errors import ModelIdentityError, ModelMismatchError
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.retrieval.identity import (
    ModelIdentity,
    are_paired,
    canonical_name,
    check_identity,
    check_metadata,
    check_pairing,
    record_identity,
    stored_identity,
)
from photoseek.retrieval.store.base import METADATA_KEY, VectorStore

CLIP = ModelIdentity("sentence-transformers/clip-ViT-B-32", 512, "aaaa")
MULTILINGUAL = ModelIdentity("sentence-transformers/clip-ViT-B-32-multilingual-v1", 512, "bbbb")
OTHER_512 = ModelIdentity("someone/other-clip", 512, "cccc")


@pytest.fixture(scope="module")
def tiny(tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder(str(tiny_clip_dir), device="cpu")


@pytest.fixture(scope="module")
def other(other_tiny_clip_dir: Path) -> ClipEncoder:
    return ClipEncoder(str(other_tiny_clip_dir), device="cpu")


class Pair:
    """An encoder stand-in with chosen identities: the pairing rules are the point, not a model."""

    def __init__(self, text: ModelIdentity, image: ModelIdentity) -> None:
        self._text, self._image = text, image

    def identity(self) -> ModelIdentity:
        return self._image

    def text_identity(self) -> ModelIdentity:
        return self._text


def test_a_new_collection_records_the_image_model(any_store: VectorStore, tiny: ClipEncoder) -> None:
    any_store.ensure_collection(tiny.dimension)
    assert stored_identity(any_store) is None
    record_identity(any_store, tiny)
    record = any_store.get_metadata()[METADATA_KEY]["image_model"]
    assert record == {"name": tiny.identity().name, "dimension": 16, "fingerprint": tiny.identity().fingerprint}
    assert stored_identity(any_store) == tiny.identity()
    assert check_identity(any_store, tiny) == tiny.identity()


def test_the_record_survives_reopening(store_factory, tiny: ClipEncoder) -> None:  # type: ignore[no-untyped-def]
    store = store_factory("kept")
    store.ensure_collection(tiny.dimension)
    record_identity(store, tiny)
    store.close()
    assert stored_identity(store_factory("kept")) == tiny.identity()


def test_a_collection_built_by_another_model_is_refused(
    any_store: VectorStore, tiny: ClipEncoder, other: ClipEncoder
) -> None:
    any_store.ensure_collection(tiny.dimension)
    record_identity(any_store, tiny)
    with pytest.raises(ModelIdentityError) as caught:
        check_identity(any_store, other)
    message = str(caught.value)
    assert tiny.identity().name in message and other.identity().name in message
    assert "PHOTOSEEK_QDRANT__COLLECTION" in message and any_store.collection in message


def test_the_record_keeps_other_metadata(any_store: VectorStore, tiny: ClipEncoder) -> None:
    any_store.ensure_collection(tiny.dimension, metadata={"owner": "photos-team"})
    record_identity(any_store, tiny)
    assert any_store.get_metadata()["owner"] == "photos-team"


def test_the_same_model_from_another_folder_is_accepted(
    any_store: VectorStore, tiny: ClipEncoder, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    import shutil

    copy = shutil.copytree(tiny_clip_dir, tmp_path / "copy-of-tiny")
    any_store.ensure_collection(tiny.dimension)
    record_identity(any_store, tiny)
    moved = ClipEncoder(str(copy), device="cpu")
    assert moved.identity().name != tiny.identity().name
    assert check_identity(any_store, moved) == tiny.identity()


def test_a_collection_without_a_record_is_accepted(any_store: VectorStore, other: ClipEncoder) -> None:
    any_store.ensure_collection(other.dimension)
    assert check_identity(any_store, other) is None


def test_an_unpaired_text_model_is_refused_by_the_guard_too(any_store: VectorStore) -> None:
    any_store.ensure_collection(512)
    record_identity(any_store, Pair(CLIP, CLIP))
    with pytest.raises(ModelMismatchError, match="not known to share"):
        check_identity(any_store, Pair(OTHER_512, CLIP))
    assert check_identity(any_store, Pair(OTHER_512, CLIP), allow_unpaired_text_model=True) == CLIP
    assert check_identity(any_store, Pair(MULTILINGUAL, CLIP)) == CLIP


def test_a_model_pairs_with_itself() -> None:
    assert are_paired(CLIP, CLIP)
    assert are_paired(ModelIdentity("clip-ViT-B-32", 512, "x"), CLIP)  # the short name
    assert are_paired(ModelIdentity("/models/a", 512, "same"), ModelIdentity("/elsewhere/b", 512, "same"))


def test_the_multilingual_text_model_pairs_with_clip_vit_b_32_only() -> None:
    assert are_paired(MULTILINGUAL, CLIP)
    assert not are_paired(CLIP, MULTILINGUAL)  # the table is text -> image
    assert not are_paired(MULTILINGUAL, OTHER_512)


def test_local_copies_pair_by_folder_name(tmp_path: Path) -> None:
    text_dir = tmp_path / "clip-ViT-B-32-multilingual-v1"
    image_dir = tmp_path / "clip-ViT-B-32"
    text_dir.mkdir()
    image_dir.mkdir()
    assert are_paired(ModelIdentity(str(text_dir), 512, "t"), ModelIdentity(str(image_dir), 512, "i"))
    assert canonical_name(str(image_dir) + "/") == str(image_dir)


def test_pairing_refuses_unknown_pairs_unless_allowed() -> None:
    with pytest.raises(ModelMismatchError, match="PHOTOSEEK_MODEL__ALLOW_UNPAIRED_TEXT_MODEL"):
        check_pairing(OTHER_512, CLIP)
    check_pairing(OTHER_512, CLIP, allow_unpaired_text_model=True)


def test_pairing_refuses_another_dimension_even_when_allowed() -> None:
    with pytest.raises(ModelMismatchError, match="768-d"):
        check_pairing(ModelIdentity("big", 768, "d"), CLIP, allow_unpaired_text_model=True)


def test_record_round_trip() -> None:
    assert ModelIdentity.from_record(CLIP.to_record()) == CLIP


def test_metadata_read_elsewhere_is_checked_the_same_way() -> None:
    metadata = {METADATA_KEY: {"image_model": CLIP.to_record()}, "owner": "x"}
    assert check_metadata(metadata, "photos", Pair(MULTILINGUAL, CLIP)) == CLIP
    assert check_metadata({}, "photos", Pair(OTHER_512, OTHER_512)) is None
    with pytest.raises(ModelIdentityError, match="'photos' was built by image model sentence-transformers/clip"):
        check_metadata(metadata, "photos", Pair(OTHER_512, OTHER_512))
