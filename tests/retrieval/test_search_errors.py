"""Each error a caller can act on raises its own type with a message a person understands."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from photoseek.config import ModelSettings, QdrantSettings, Settings
from photoseek.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ModelIdentityError,
    PhotoseekError,
    QueryError,
    StoreUnavailable,
)
from photoseek.retrieval import ImageSearch
from photoseek.retrieval.store.server import ServerStore
from test_search_support import DIM, WordEncoder, make_photos


def _small(store: Any, n: int = 20) -> Any:
    ids, vectors, payloads = make_photos(n)
    store.ensure_collection(DIM)
    store.upsert(ids, vectors, payloads)
    return store


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_query_is_a_query_error_before_any_work(any_store: Any, text: str) -> None:
    encoder = WordEncoder()
    with pytest.raises(QueryError, match="query text is empty; give some words"):
        ImageSearch(any_store, encoder).search(text)
    with pytest.raises(QueryError, match="avoid text is empty"):
        ImageSearch(any_store, encoder).search("dog", avoid=[text])
    with pytest.raises(QueryError, match="query text is empty"):
        ImageSearch(any_store, encoder).search_batch(["dog", text])
    assert encoder.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, r"limit must be an integer >= 1 \(got 0\)"),
        ({"offset": -1}, r"offset must be an integer >= 0"),
        ({"score_threshold": 1.5}, r"score_threshold must be a number between -1 and 1"),
        ({"min_width": "wide"}, r"min_width must be an integer"),
        ({"colour": "red"}, r"unknown field 'colour'.*valid fields:"),
    ],
)
def test_bad_arguments_fail_before_the_store_is_asked(any_store: Any, kwargs: dict[str, Any], message: str) -> None:
    # The collection does not exist: reaching the store would raise CollectionNotFound instead.
    encoder = WordEncoder()
    search = ImageSearch(any_store, encoder)
    with pytest.raises(QueryError, match=message):
        search.search("dog", **kwargs)
    with pytest.raises(QueryError, match=message):
        search.similar("photo0001", **kwargs)
    assert encoder.calls == 0


def test_missing_collection_says_which_command_creates_it(any_store: Any) -> None:
    search = ImageSearch(any_store, WordEncoder())
    calls = (lambda: search.search("dog"), lambda: search.similar("photo0001"), lambda: search.search_batch(["dog"]))
    for call in calls:
        with pytest.raises(
            CollectionNotFound, match=r"collection '\S*photos' does not exist.*`photoseek ingest` creates it"
        ):
            call()


def test_a_collection_dropped_after_the_check_is_reported(any_store: Any) -> None:
    search = ImageSearch(_small(any_store), WordEncoder())
    assert search.search("dog", limit=3)
    any_store.delete_collection()
    with pytest.raises(CollectionNotFound, match="photoseek ingest"):
        search.search("dog", limit=3)


def test_model_dimension_differs_from_the_collection(any_store: Any) -> None:
    search = ImageSearch(_small(any_store), WordEncoder(dimension=8))
    with pytest.raises(CollectionMismatch, match=r"holds 16-d vectors but the configured model makes 8-d ones"):
        search.search("dog")


def test_collection_built_by_another_model_is_refused(any_store: Any) -> None:
    store = _small(any_store)
    store.set_metadata({"photoseek": {"image_model": WordEncoder(name="test/other").identity().to_record()}})
    with pytest.raises(
        ModelIdentityError, match=r"was built by image model test/other.*configured image model is test/word-encoder"
    ):
        ImageSearch(store, WordEncoder()).search("dog")
    # the model that built it is welcome
    assert ImageSearch(store, WordEncoder(name="test/other")).search("dog", limit=2)


def test_a_collection_rebuilt_by_another_model_is_noticed(any_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running client checks again after a while, not only once."""
    import photoseek.retrieval.search as search_module

    store = _small(any_store)
    search = ImageSearch(store, WordEncoder())
    assert search.search("dog", limit=2)
    store.set_metadata({"photoseek": {"image_model": WordEncoder(name="test/other").identity().to_record()}})
    assert search.search("dog", limit=2), "within RECHECK_SECONDS the first check holds"
    monkeypatch.setattr(search_module, "RECHECK_SECONDS", 0.0)
    with pytest.raises(ModelIdentityError, match="test/other"):
        search.search("dog")


def test_query_vector_checks(any_store: Any) -> None:
    search = ImageSearch(_small(any_store), WordEncoder())
    with pytest.raises(QueryError, match="all zeros"):
        search.search_by_vector(np.zeros(DIM, dtype=np.float32))
    with pytest.raises(QueryError, match="search_batch takes a list of texts"):
        search.search_batch("dog")  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="photo_id is empty"):
        search.similar("")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_store_unavailable_after_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    store = ServerStore(QdrantSettings(url=url, retries=1, prefer_grpc=False, timeout=2))  # type: ignore[call-arg]
    with pytest.raises(StoreUnavailable, match=rf"{url} unavailable after 2 attempt\(s\).*PHOTOSEEK_QDRANT__URL"):
        ImageSearch(store, WordEncoder()).search("dog")
    store.close()


def test_from_settings_reports_a_missing_collection_before_loading_the_model(tmp_path: Path) -> None:
    # The model folder does not exist either: the collection error comes first, fast.
    settings = Settings(
        qdrant=QdrantSettings(path=tmp_path / "qdrant", collection="nothing"),  # type: ignore[call-arg]
        model=ModelSettings(image=str(tmp_path / "no-model"), text=str(tmp_path / "no-model")),  # type: ignore[call-arg]
    )
    with pytest.raises(CollectionNotFound, match="'nothing' does not exist in the embedded store") as caught:
        ImageSearch.from_settings(settings)
    assert isinstance(caught.value, PhotoseekError)
