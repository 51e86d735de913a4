"""The search client other services import: ``ImageSearch`` (threads) and ``AsyncImageSearch`` (asyncio)."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from photoseek.config.settings import RetrievalSettings, Settings, load_settings
from photoseek.errors import CollectionMismatch, CollectionNotFound, PhotoNotFound, QueryError
from photoseek.retrieval.diversity import Diversity, collapse, diversity_options, mmr
from photoseek.retrieval.duplicates import DuplicateGroup, check_threshold, find_duplicates
from photoseek.retrieval.facets import check_facet_limit, facet_field
from photoseek.retrieval.filters import build_filter
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.identity import IdentifiedEncoder, check_metadata
from photoseek.retrieval.modes import SearchMode, check_fusion, check_mode, check_prefetch
from photoseek.retrieval.query_image import ImageInput, read_image
from photoseek.retrieval.schema import SOURCES, point_id
from photoseek.retrieval.store.base import (
    CollectionInfo,
    FacetCount,
    Record,
    ScoredRecord,
    VectorStore,
    collection_not_found,
    keywords_missing,
)

if TYPE_CHECKING:
    from photoseek.retrieval.encoder import Encoder
    from photoseek.retrieval.store.async_server import AsyncVectorStore


@dataclass(frozen=True)
class _Options:
    limit: int
    offset: int
    filter: models.Filter | None
    score_threshold: float | None
    exact: bool
    rerank: Diversity | None = None
    mode: SearchMode = "vector"
    fusion: str = "rrf"
    prefetch: int = 50
    text: str = ""  # the query text, for the keyword side


def missing_collection(store: VectorStore | AsyncVectorStore) -> CollectionNotFound:
    """The error for the store's collection not existing, saying which command creates it."""
    return collection_not_found(store.collection, store.backend, store.location)


# Seconds a collection check holds: a long-running service looks again now and then, so that a
# collection rebuilt by another model under the same name is refused, not searched with the
# wrong vectors.
RECHECK_SECONDS = 60.0


class _SearchCore:
    """What both clients share: argument checks, query encoding and the collection check."""

    def __init__(self, encoder: Encoder, retrieval: RetrievalSettings | None, allow_unpaired_text_model: bool) -> None:
        self.encoder = encoder
        self.defaults = retrieval or RetrievalSettings()
        self._allow_unpaired = allow_unpaired_text_model
        self._checked_at: float | None = None
        # Whether the collection has the keyword side, as of the last check (None: not checked).
        self._keywords: bool | None = None

    @property
    def _checked(self) -> bool:
        """The collection was checked less than ``RECHECK_SECONDS`` ago."""
        return self._checked_at is not None and time.monotonic() - self._checked_at < RECHECK_SECONDS

    @_checked.setter
    def _checked(self, value: bool) -> None:
        self._checked_at = time.monotonic() if value else None

    def _options(
        self,
        limit: int | None,
        offset: int,
        filter: models.Filter | None,
        score_threshold: float | None,
        exact: bool | None,
        where: Mapping[str, Any],
        exclude_ids: Sequence[str] = (),
        rerank: Diversity | None = None,
        mode: str | None = None,
        fusion: str | None = None,
        prefetch: int | None = None,
        text: str | None = None,
    ) -> _Options:
        limit = self.defaults.limit if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise QueryError(f"limit must be an integer >= 1 (got {limit!r})")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise QueryError(f"offset must be an integer >= 0 (got {offset!r})")
        chosen = self._mode(mode, text)
        # The default threshold is a cosine: it means nothing to BM25 or fused scores.
        threshold = score_threshold
        if threshold is None and chosen == "vector":
            threshold = self.defaults.score_threshold
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
                raise QueryError(f"score_threshold must be a number (got {threshold!r})")
            if chosen == "vector" and not -1.0 <= threshold <= 1.0:
                raise QueryError(f"score_threshold must be a number between -1 and 1 (a cosine) (got {threshold!r})")
        if chosen != "hybrid" and (fusion is not None or prefetch is not None):
            raise QueryError(f"fusion and prefetch are options of mode='hybrid' (the mode is {chosen!r})")
        if prefetch is not None:
            pool = check_prefetch(prefetch, limit, offset)
        else:
            # The configured pool, or the page's end past it (pass prefetch to keep one pool for every page).
            pool = max(self.defaults.prefetch, offset + limit)
        return _Options(
            limit=limit,
            offset=offset,
            filter=build_filter(filter, where, exclude_ids=exclude_ids),
            score_threshold=None if threshold is None else float(threshold),
            exact=self.defaults.exact if exact is None else bool(exact),
            rerank=rerank,
            mode=chosen,
            fusion=self.defaults.fusion if fusion is None else check_fusion(fusion),
            prefetch=pool,
            text=text or "",
        )

    def _mode(self, mode: str | None, text: str | None) -> SearchMode:
        """The search mode: the one asked, else the configured default for a text query, else vector.

        Raises:
            QueryError: an unknown mode, or keyword / hybrid mode without a query text.
        """
        if mode is None:
            return self.defaults.mode if text is not None else "vector"
        chosen = check_mode(mode)
        if chosen != "vector" and text is None:
            raise QueryError(
                f"mode {chosen!r} matches the query's words against the photos' words: it needs a text "
                "query (search / search_batch); search by image, vector or similar photo in mode 'vector'"
            )
        return chosen

    def _check_keywords(self, store: VectorStore | AsyncVectorStore, options: _Options) -> None:
        """Refuse a keyword or hybrid search of a collection without the keyword side."""
        if options.mode != "vector" and self._keywords is False:
            raise keywords_missing(store.collection, store.location)

    @staticmethod
    def _store_query(
        store: VectorStore | AsyncVectorStore,
        vector: np.ndarray | None,
        options: _Options,
        avoid: Sequence[np.ndarray],
        *,
        limit: int,
        offset: int,
        with_vectors: bool,
    ) -> Callable[[], Any]:
        """The store call of one page in the options' mode (a coroutine's factory on an async store)."""
        common: dict[str, Any] = {
            "limit": limit,
            "offset": offset,
            "filter": options.filter,
            "score_threshold": options.score_threshold,
            "with_vectors": with_vectors,
        }
        if options.mode == "keyword":
            return lambda: store.query_keywords(options.text, **common)
        assert vector is not None
        if options.mode == "hybrid":
            # One pool for every window asked of this search, so every window ranks one fused list.
            pool = options.prefetch
            return lambda: store.query_hybrid(
                vector, options.text, fusion=options.fusion, prefetch=pool, exact=options.exact, avoid=avoid, **common
            )
        return lambda: store.query(vector, exact=options.exact, avoid=avoid, **common)

    # Keyword and fused scores tie often (two photos with the same words, two photos at the same
    # rank of one list), and an engine orders tied points its own way, which can differ between
    # a page and the next and between engines. In those modes the library ranks itself: it
    # fetches from the top past the page's end until the points tied with the page's last one
    # are all in, orders by score then id, and slices. Pages follow one list, and both backends
    # give the same order.

    @staticmethod
    def _next_window(records: Sequence[ScoredRecord], end: int, window: int) -> int | None:
        """None when ``records`` (the engine's top ``window``) settle the first ``end`` ranks, else a larger window."""
        if len(records) < window or len(records) <= end:
            return None  # the engine had no more
        if records[-1].score < records[end - 1].score:
            return None  # every point tied with the end is in
        return window * 2

    @staticmethod
    def _ranked(records: Sequence[ScoredRecord], end: int) -> list[ScoredRecord]:
        """The first ``end`` records by score, ties by id: one order whatever the engine."""
        return sorted(records, key=lambda r: (-r.score, r.id))[:end]

    def _text_request(
        self,
        text: str,
        avoid: Sequence[str] | str,
        limit: int | None,
        offset: int,
        filter: models.Filter | None,
        score_threshold: float | None,
        exact: bool | None,
        where: Mapping[str, Any],
        rerank: Diversity | None,
        mode: str | None,
        fusion: str | None,
        prefetch: int | None,
    ) -> tuple[list[str], _Options]:
        """A text search checked: the query text then the avoid texts, and the options.

        Keyword mode refuses avoid texts: they push results away on the image side only.
        """
        avoid_texts = [avoid] if isinstance(avoid, str) else list(avoid)
        texts = self._texts([text], "query text") + self._texts(avoid_texts, "an avoid text")
        options = self._options(
            limit,
            offset,
            filter,
            score_threshold,
            exact,
            where,
            rerank=rerank,
            mode=mode,
            fusion=fusion,
            prefetch=prefetch,
            text=texts[0],
        )
        if options.mode == "keyword" and avoid_texts:
            raise QueryError("avoid pushes results away on the image side: use mode 'vector' or 'hybrid'")
        return texts, options

    @staticmethod
    def _candidates_wanted(options: _Options, have: int) -> int:
        """How many candidates a reranked page needs: MMR's fixed pool; for collapsing, twice
        the page's end to start with (``have`` = 0), then twice as many while too few survive,
        up to ``collapse_pool``."""
        assert options.rerank is not None
        if options.rerank.mmr_lambda is not None:
            return options.rerank.candidates
        return min(max(2 * (options.offset + options.limit), 2 * have), options.rerank.collapse_pool)

    @staticmethod
    def _reranked(options: _Options, records: Sequence[ScoredRecord]) -> list[ScoredRecord]:
        """The page of ``records`` (candidates best first, with vectors) after MMR and/or collapsing."""
        rerank = options.rerank
        assert rerank is not None
        end = options.offset + options.limit
        if rerank.mmr_lambda is not None and options.mode != "vector":
            # MMR weighs relevance against cosines: BM25 and fused scores are first scaled to [0, 1].
            top = max((r.score for r in records), default=0.0) or 1.0
            scaled = [replace(r, score=r.score / top) for r in records]
            back = {id(s): r for s, r in zip(scaled, records, strict=True)}
            ordered = [back[id(s)] for s in mmr(scaled, rerank.mmr_lambda, end, rerank.collapse_threshold)]
        elif rerank.mmr_lambda is not None:
            ordered = mmr(records, rerank.mmr_lambda, end, rerank.collapse_threshold)
        else:
            assert rerank.collapse_threshold is not None
            ordered = collapse(records, rerank.collapse_threshold, end)
        return [
            ScoredRecord(id=r.id, payload=r.payload, score=r.score) for r in ordered[options.offset : end]
        ]

    @staticmethod
    def _exhausted(options: _Options, records: Sequence[ScoredRecord], asked: int) -> bool:
        """Whether a reranked page is final: MMR's pool is fixed; collapsing is done once the page
        is full, the store had no more candidates or the pool's cap was read."""
        assert options.rerank is not None
        if options.rerank.mmr_lambda is not None or len(records) < asked or asked >= options.rerank.collapse_pool:
            return True
        kept = collapse(records, options.rerank.collapse_threshold or 1.0, options.offset + options.limit)
        return len(kept) == options.offset + options.limit

    @staticmethod
    def _facet_request(
        field: str, limit: int | None, filter: models.Filter | None, where: Mapping[str, Any]
    ) -> tuple[str, int, models.Filter | None]:
        """A facet request checked: the payload path, the limit and the filter."""
        return facet_field(field), check_facet_limit(limit), build_filter(filter, where)

    @staticmethod
    def _texts(texts: Sequence[str], what: str) -> list[str]:
        result = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise QueryError(f"{what} must be text (got {type(text).__name__} at position {index})")
            if not text.strip():
                raise QueryError(f"{what} is empty; give some words to search for, e.g. 'a dog on a beach'")
            result.append(text.strip())
        return result

    def _encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode_text(list(texts)), dtype=np.float32)

    def _encode_image(self, image: ImageInput) -> np.ndarray:
        picture = read_image(image, max_bytes=self.defaults.max_image_bytes, timeout=self.defaults.image_read_timeout)
        vector: np.ndarray = np.asarray(self.encoder.encode_images([picture]), dtype=np.float32)[0]
        return vector

    @contextmanager
    def _collection_may_vanish(self) -> Iterator[None]:
        """Around a store call: a collection dropped since the check is looked for again next time.

        The store's ``CollectionNotFound`` goes on to the caller as it is (it names the store).
        """
        try:
            yield
        except CollectionNotFound:
            self._checked = False
            raise

    def _check_identity(self, metadata: Mapping[str, Any], collection: str) -> None:
        """Refuse a collection built by another image model (encoders that can tell theirs)."""
        if isinstance(self.encoder, IdentifiedEncoder):
            check_metadata(metadata, collection, self.encoder, self._allow_unpaired)

    def _check_info(self, store: VectorStore | AsyncVectorStore, info: CollectionInfo) -> None:
        dimension = int(self.encoder.dimension)
        if info.vector_size != dimension:
            raise CollectionMismatch(
                f"collection {store.collection!r} holds {info.vector_size}-d vectors but the configured "
                f"model makes {dimension}-d ones; search with the model that built the collection "
                "(PHOTOSEEK_MODEL__IMAGE / PHOTOSEEK_MODEL__TEXT)"
            )


def _candidate_ids(photo_id: str, source: str | None) -> list[str]:
    if not isinstance(photo_id, str) or not photo_id.strip():
        raise QueryError("photo_id is empty; give the id of a stored photo (Unsplash photo_id or relative path)")
    ids = [point_id(photo_id, s) for s in ((source,) if source else SOURCES)]
    try:
        ids.insert(0, str(uuid.UUID(photo_id)))  # a point id works too
    except ValueError:
        pass
    return ids


def _photo_filter(photo_id: str, source: str | None) -> models.Filter:
    must: list[Any] = [models.FieldCondition(key="photo_id", match=models.MatchValue(value=photo_id))]
    if source:
        must.append(models.FieldCondition(key="source", match=models.MatchValue(value=source)))
    return models.Filter(must=must)


def _unknown_photo(photo_id: str, collection: str) -> PhotoNotFound:
    return PhotoNotFound(
        f"no photo {photo_id!r} in collection {collection!r}; give a stored photo_id (the Unsplash id, "
        "or the path relative to the ingested folder) or a point id"
    )


def _stored_vector(record: Record, photo_id: str) -> np.ndarray:
    if record.vector is None:
        raise QueryError(f"photo {photo_id!r} is stored without a vector; ingest it again")
    return np.asarray(record.vector, dtype=np.float32)


def _hits(records: Sequence[ScoredRecord]) -> list[Hit]:
    return [Hit.from_record(r) for r in records]


class ImageSearch(_SearchCore):
    """Find photos by text, by example image or by similarity to a stored photo.

    One instance is safe to share between threads: it holds one store handle and one encoder
    (whose text cache is thread-safe). Build it with :meth:`from_settings`, or pass a store
    and an encoder so that several searches share one loaded model.

    Example:
        >>> search = ImageSearch.from_settings()
        >>> search.search("a red bicycle in the snow", orientation="landscape", country="Iceland")
    """

    def __init__(
        self,
        store: VectorStore,
        encoder: Encoder,
        *,
        retrieval: RetrievalSettings | None = None,
        allow_unpaired_text_model: bool = False,
        owns_store: bool = False,
    ) -> None:
        """Wrap a store and an encoder.

        Args:
            store: the collection to search (``photoseek.retrieval.store.open_store``).
            encoder: the CLIP encoder (``ClipEncoder.from_settings``) or any ``Encoder``.
            retrieval: default limit, score threshold and exactness.
            allow_unpaired_text_model: accept a text model not known to share the image model's space.
            owns_store: close the store in :meth:`close`.
        """
        super().__init__(encoder, retrieval, allow_unpaired_text_model)
        self.store = store
        self._owns_store = owns_store
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ImageSearch:
        """Open the configured store and model (``PHOTOSEEK_*`` variables when ``settings`` is None).

        Raises:
            CollectionNotFound: the collection does not exist yet.
            StoreUnavailable: the Qdrant server cannot be reached.
            ModelLoadError / ModelIdentityError / CollectionMismatch: the model cannot search it.
        """
        from photoseek.retrieval.encoder import ClipEncoder
        from photoseek.retrieval.store import open_store

        settings = settings or load_settings()
        store = open_store(settings.qdrant)
        try:
            if not store.collection_exists():  # before the slow model load
                raise missing_collection(store)
            encoder = ClipEncoder.from_settings(settings.model, for_queries=True)
            search = cls(
                store,
                encoder,
                retrieval=settings.retrieval,
                allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
                owns_store=True,
            )
            search.check()
        except BaseException:
            store.close()
            raise
        return search

    def check(self) -> None:
        """Check that the collection exists and that the model can search it (lazily, then
        again once ``RECHECK_SECONDS`` have passed).

        Raises:
            CollectionNotFound, CollectionMismatch, ModelIdentityError.
        """
        if self._checked:
            return
        with self._lock:
            if self._checked:
                return
            if not self.store.collection_exists():
                raise missing_collection(self.store)
            info = self.store.info()
            self._check_info(self.store, info)
            self._check_identity(info.metadata, self.store.collection)
            self._keywords = self.store.has_keywords()
            self._checked = True

    def search(
        self,
        text: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        avoid: Sequence[str] | str = (),
        exact: bool | None = None,
        diversity: float | None = None,
        candidates: int | None = None,
        collapse_duplicates: bool | float = False,
        mode: str | None = None,
        fusion: str | None = None,
        prefetch: int | None = None,
        **where: Any,
    ) -> list[Hit]:
        """Photos that match a text, best first.

        Args:
            text: what to look for ("a dog on a beach").
            limit: how many hits (default ``PHOTOSEEK_RETRIEVAL__LIMIT``).
            offset: hits to skip, for pagination.
            filter: a ``qdrant_client.models.Filter``, ANDed with ``where``.
            score_threshold: leave out hits scoring lower (the mode's score; the configured
                default, a cosine, applies in vector mode only).
            avoid: texts to push the results away from ("people", "text"); vector and hybrid modes.
            exact: exact search instead of HNSW.
            diversity: MMR's lambda in [0, 1] (0.5 weighs relevance and variety equally; 1 is
                plain relevance): the hits are reordered for variety among the top
                ``candidates`` (default 100), where the pages end. Scores stay the cosine.
            candidates: the hits MMR chooses among.
            collapse_duplicates: drop a hit at cosine >= a threshold to a better-ranked hit
                (True: 0.95, ``diversity.DEFAULT_COLLAPSE_THRESHOLD``; or the threshold).
                Pages of both reranks follow one list: no gap, no repeat.
            mode: ``"vector"`` (CLIP: what the picture looks like), ``"keyword"`` (BM25 over the
                photo's words: descriptions, keywords, places, landmark, photographer) or
                ``"hybrid"`` (both lists fused in one engine query); default
                ``PHOTOSEEK_RETRIEVAL__MODE``. Scores are the cosine, BM25, or the fusion's.
            fusion: hybrid mode's fusion, ``"rrf"`` (ranks, k = 60) or ``"dbsf"`` (normalised
                scores); default ``PHOTOSEEK_RETRIEVAL__FUSION``.
            prefetch: hybrid mode's candidates from each side, at least ``offset + limit``;
                default ``PHOTOSEEK_RETRIEVAL__PREFETCH`` or the page's end if further. Keep it
                fixed across pages for pages of one list.
            **where: keyword filters (``orientation="landscape"``, ``min_width=3000``, ...;
                see ``photoseek.retrieval.filters.WHERE_KEYS``).

        Raises:
            QueryError: empty text, an invalid keyword filter or argument.
            KeywordsMissing: keyword or hybrid mode on a collection without the keyword side.
            CollectionNotFound, CollectionMismatch, StoreUnavailable.
        """
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        texts, options = self._text_request(
            text, avoid, limit, offset, filter, score_threshold, exact, where, rerank, mode, fusion, prefetch
        )
        if options.mode == "keyword":  # BM25 alone: no image-side vector to encode
            return self._query(None, options)
        vectors = self._encode_texts(texts)
        return self._query(vectors[0], options, avoid=list(vectors[1:]))

    def search_by_image(
        self,
        image: ImageInput,
        *,
        limit: int | None = None,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool | None = None,
        diversity: float | None = None,
        candidates: int | None = None,
        collapse_duplicates: bool | float = False,
        mode: str | None = None,
        **where: Any,
    ) -> list[Hit]:
        """Photos that look like an example image (a path, bytes or a PIL image), best first.

        Takes the same arguments as :meth:`search` after the image; the mode is vector (keyword
        and hybrid modes need a text: QueryError).
        """
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        options = self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        return self._query(self._encode_image(image), options)

    def search_by_vector(
        self,
        vector: np.ndarray,
        *,
        limit: int | None = None,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool | None = None,
        diversity: float | None = None,
        candidates: int | None = None,
        collapse_duplicates: bool | float = False,
        mode: str | None = None,
        **where: Any,
    ) -> list[Hit]:
        """Photos nearest to a vector of the collection's space, best first (vector mode only)."""
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        options = self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        return self._query(np.asarray(vector, dtype=np.float32), options)

    def similar(
        self,
        photo_id: str,
        *,
        source: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool | None = None,
        diversity: float | None = None,
        candidates: int | None = None,
        collapse_duplicates: bool | float = False,
        mode: str | None = None,
        **where: Any,
    ) -> list[Hit]:
        """Photos like a stored photo (by its stored vector), the photo itself left out.

        Args:
            photo_id: the photo's source id (Unsplash ``photo_id``, a folder's relative path)
                or its point id.
            source: "unsplash" or "folder" when known; otherwise both are tried.
            mode: vector only (keyword and hybrid modes need a text: QueryError).

        Raises:
            QueryError: no such photo (or an invalid argument).
        """
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        # fail before any lookup
        self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        self.check()
        record = self._lookup(photo_id, source)
        options = self._options(
            limit, offset, filter, score_threshold, exact, where, exclude_ids=[record.id], rerank=rerank, mode=mode
        )
        return self._query(_stored_vector(record, photo_id), options)

    def search_batch(
        self,
        texts: Sequence[str],
        *,
        limit: int | None = None,
        offset: int = 0,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        exact: bool | None = None,
        mode: str | None = None,
        fusion: str | None = None,
        prefetch: int | None = None,
        **where: Any,
    ) -> list[list[Hit]]:
        """:meth:`search` for several texts in one encoder batch and (in vector mode) one store round trip."""
        if isinstance(texts, str):
            raise QueryError("search_batch takes a list of texts; use search() for one text")
        queries = self._texts(list(texts), "query text")
        options = self._options(
            limit, offset, filter, score_threshold, exact, where, mode=mode, fusion=fusion, prefetch=prefetch, text=""
        )
        if not queries:
            return []
        if options.mode != "vector":  # one engine query per text: there is no batch of fused queries
            encoded = self._encode_texts(queries) if options.mode == "hybrid" else [None] * len(queries)
            return [self._query(v, replace(options, text=q)) for q, v in zip(queries, encoded, strict=True)]
        vectors = self._encode_texts(queries)
        self.check()
        with self._collection_may_vanish():
            batches = self.store.query_batch(
                vectors,
                limit=options.limit,
                offset=options.offset,
                filter=options.filter,
                score_threshold=options.score_threshold,
                exact=options.exact,
            )
        return [_hits(batch) for batch in batches]

    def facets(
        self,
        field: str,
        *,
        limit: int | None = None,
        filter: models.Filter | None = None,
        exact: bool = False,
        **where: Any,
    ) -> list[FacetCount]:
        """How many photos hold each value of a field, among the photos matching the filters.

        Args:
            field: a keyword-indexed payload field (``"location.country"``, ``"keywords"``,
                ``"photographer"``, ...; see ``photoseek.retrieval.facets.facetable_fields``)
                or a ``where`` key naming one (``"country"``, ``"camera_make"``).
            limit: how many values, most frequent first (default 10).
            filter: a ``qdrant_client.models.Filter``, ANDed with ``where``.
            exact: count point by point; by default the counts come from the payload index
                (about 100x faster; see ``VectorStore.facet``).
            **where: keyword filters, as in :meth:`search`.

        Returns:
            ``FacetCount(value, count)`` most frequent first, ties by value.
            A photo whose list holds a value counts once for it.

        Raises:
            QueryError: a field that cannot be faceted (the message lists those that can),
                an invalid limit or keyword filter.
        """
        key, count, query_filter = self._facet_request(field, limit, filter, where)
        self.check()
        with self._collection_may_vanish():
            return self.store.facet(key, limit=count, filter=query_filter, exact=bool(exact))

    def duplicates(
        self,
        *,
        threshold: float | None = None,
        filter: models.Filter | None = None,
        **where: Any,
    ) -> list[DuplicateGroup]:
        """Groups of near-identical photos among those matching the filters, largest first.

        Compares every pair of stored vectors exactly, in blocks of matrix products (no model
        runs); the cost grows with the square of the photos compared (see
        ``photoseek.retrieval.duplicates`` and ``benchmarks/duplicates.py``).

        Args:
            threshold: cosine similarity at or above which two photos are near-identical
                (default ``duplicates.DEFAULT_DUPLICATE_THRESHOLD``, 0.95).
            filter: a ``qdrant_client.models.Filter``, ANDed with ``where``.
            **where: keyword filters, as in :meth:`search`.

        Raises:
            QueryError: an invalid threshold or keyword filter.
        """
        check_threshold(threshold)
        query_filter = build_filter(filter, where)
        self.check()
        with self._collection_may_vanish():
            return find_duplicates(self.store, threshold=threshold, filter=query_filter)

    def _lookup(self, photo_id: str, source: str | None) -> Record:
        with self._collection_may_vanish():
            records = self.store.retrieve(_candidate_ids(photo_id, source), with_vectors=True)
            if not records:
                records, _ = self.store.scroll(limit=1, filter=_photo_filter(photo_id, source), with_vectors=True)
        if not records:
            raise _unknown_photo(photo_id, self.store.collection)
        return records[0]

    def _query(self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray] = ()) -> list[Hit]:
        self.check()
        self._check_keywords(self.store, options)
        if options.rerank is not None:
            return _hits(self._diverse(vector, options, avoid))
        if options.mode != "vector":
            end = options.offset + options.limit
            return _hits(self._head(vector, options, avoid, end, with_vectors=False)[options.offset :])
        call = self._store_query(
            self.store, vector, options, avoid, limit=options.limit, offset=options.offset, with_vectors=False
        )
        with self._collection_may_vanish():
            records = call()
        return _hits(records)

    def _head(
        self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray], end: int, with_vectors: bool
    ) -> list[ScoredRecord]:
        """The first ``end`` records of a keyword or hybrid search in the library's order (ties by id)."""
        window = end + 1
        while True:
            call = self._store_query(
                self.store, vector, options, avoid, limit=window, offset=0, with_vectors=with_vectors
            )
            with self._collection_may_vanish():
                records = call()
            wider = self._next_window(records, end, window)
            if wider is None:
                return self._ranked(records, end)
            window = wider

    def _diverse(
        self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray]
    ) -> list[ScoredRecord]:
        asked = self._candidates_wanted(options, 0)
        while True:
            if options.mode != "vector":
                records = self._head(vector, options, avoid, asked, with_vectors=True)
            else:
                call = self._store_query(self.store, vector, options, avoid, limit=asked, offset=0, with_vectors=True)
                with self._collection_may_vanish():
                    records = call()
            if self._exhausted(options, records, asked):
                return self._reranked(options, records)
            asked = self._candidates_wanted(options, asked)

    def close(self) -> None:
        """Release the store if this client opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> ImageSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
