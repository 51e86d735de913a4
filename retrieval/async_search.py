"""``AsyncImageSearch``: the search client for asyncio services, the same methods as ``ImageSearch``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from qdrant_client import models

from photoseek.config.settings import RetrievalSettings, Settings, load_settings
from photoseek.errors import QueryError
from photoseek.retrieval.diversity import diversity_options
from photoseek.retrieval.duplicates import DuplicateGroup, check_threshold, find_duplicates_async
from photoseek.retrieval.filters import build_filter
from photoseek.retrieval.hits import Hit
from photoseek.retrieval.query_image import ImageInput
from photoseek.retrieval.search import (
    _candidate_ids,
    _hits,
    _Options,
    _photo_filter,
    _SearchCore,
    _stored_vector,
    _unknown_photo,
    missing_collection,
)
from photoseek.retrieval.store.async_server import (
    AsyncVectorStore,
    ThreadedStore,
    open_async_store,
)
from photoseek.retrieval.store.base import FacetCount, Record, ScoredRecord

if TYPE_CHECKING:
    from photoseek.retrieval.encoder import Encoder


class AsyncImageSearch(_SearchCore):
    """:class:`~photoseek.retrieval.search.ImageSearch` for asyncio: every query method is a coroutine.

    On a Qdrant server the queries go through ``AsyncQdrantClient``; the embedded store runs
    in a worker thread. Encoding a query (CPU or GPU work) always runs in a worker thread, so
    the event loop never waits on the model.
    """

    def __init__(
        self,
        store: AsyncVectorStore,
        encoder: Encoder,
        *,
        retrieval: RetrievalSettings | None = None,
        allow_unpaired_text_model: bool = False,
    ) -> None:
        """Wrap an async store (``AsyncServerStore`` or ``ThreadedStore``) and an encoder.

        Args:
            store: the collection to search; a synchronous ``VectorStore`` is wrapped in a
                ``ThreadedStore``.
            encoder: the CLIP encoder or any ``Encoder``.
            retrieval: default limit, score threshold and exactness.
            allow_unpaired_text_model: accept a text model not known to share the image model's space.
        """
        super().__init__(encoder, retrieval, allow_unpaired_text_model)
        if not asyncio.iscoroutinefunction(store.query):
            # The two store protocols differ only in async-ness, which no isinstance can see.
            store = ThreadedStore(store)  # type: ignore[arg-type]
        self.store: AsyncVectorStore = store
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AsyncImageSearch:
        """Open the configured store and load the model (``PHOTOSEEK_*`` variables when ``settings`` is None).

        The collection is checked on the first query (or by awaiting :meth:`check`).
        """
        from photoseek.retrieval.encoder import ClipEncoder

        settings = settings or load_settings()
        encoder = ClipEncoder.from_settings(settings.model, for_queries=True)
        return cls(
            open_async_store(settings.qdrant),
            encoder,
            retrieval=settings.retrieval,
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
        )

    async def check(self) -> None:
        """Check that the collection exists and that the model can search it (lazily, then
        again once ``RECHECK_SECONDS`` have passed).

        Raises:
            CollectionNotFound, CollectionMismatch, ModelIdentityError.
        """
        if self._checked:
            return
        async with self._lock:
            if self._checked:
                return
            if not await self.store.collection_exists():
                raise missing_collection(self.store)
            info = await self.store.info()
            self._check_info(self.store, info)
            self._check_identity(info.metadata, self.store.collection)
            self._keywords = await self.store.has_keywords()
            self._checked = True

    async def search(
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
        """Photos that match a text, best first (see ``ImageSearch.search``, modes included)."""
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        texts, options = self._text_request(
            text, avoid, limit, offset, filter, score_threshold, exact, where, rerank, mode, fusion, prefetch
        )
        if options.mode == "keyword":  # BM25 alone: no image-side vector to encode
            return await self._query(None, options)
        vectors = await asyncio.to_thread(self._encode_texts, texts)
        return await self._query(vectors[0], options, avoid=list(vectors[1:]))

    async def search_by_image(
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
        """Photos that look like an example image (see ``ImageSearch.search_by_image``)."""
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        options = self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        vector = await asyncio.to_thread(self._encode_image, image)
        return await self._query(vector, options)

    async def search_by_vector(
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
        """Photos nearest to a vector of the collection's space (vector mode only)."""
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        options = self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        return await self._query(np.asarray(vector, dtype=np.float32), options)

    async def similar(
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
        """Photos like a stored photo, the photo itself left out (see ``ImageSearch.similar``)."""
        rerank = diversity_options(diversity, candidates, collapse_duplicates)
        self._options(limit, offset, filter, score_threshold, exact, where, rerank=rerank, mode=mode)
        await self.check()
        record = await self._lookup(photo_id, source)
        options = self._options(
            limit, offset, filter, score_threshold, exact, where, exclude_ids=[record.id], rerank=rerank, mode=mode
        )
        return await self._query(_stored_vector(record, photo_id), options)

    async def search_batch(
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
        """Several text searches in one encoder batch and (in vector mode) one store round trip."""
        if isinstance(texts, str):
            raise QueryError("search_batch takes a list of texts; use search() for one text")
        queries = self._texts(list(texts), "query text")
        options = self._options(
            limit, offset, filter, score_threshold, exact, where, mode=mode, fusion=fusion, prefetch=prefetch, text=""
        )
        if not queries:
            return []
        if options.mode != "vector":  # one engine query per text: there is no batch of fused queries
            if options.mode == "hybrid":
                encoded: list[np.ndarray | None] = list(await asyncio.to_thread(self._encode_texts, queries))
            else:
                encoded = [None] * len(queries)
            return [await self._query(v, replace(options, text=q)) for q, v in zip(queries, encoded, strict=True)]
        vectors = await asyncio.to_thread(self._encode_texts, queries)
        await self.check()
        with self._collection_may_vanish():
            batches = await self.store.query_batch(
                vectors,
                limit=options.limit,
                offset=options.offset,
                filter=options.filter,
                score_threshold=options.score_threshold,
                exact=options.exact,
            )
        return [_hits(batch) for batch in batches]

    async def facets(
        self,
        field: str,
        *,
        limit: int | None = None,
        filter: models.Filter | None = None,
        exact: bool = False,
        **where: Any,
    ) -> list[FacetCount]:
        """How many photos hold each value of a field among those matching the filters
        (see ``ImageSearch.facets``)."""
        key, count, query_filter = self._facet_request(field, limit, filter, where)
        await self.check()
        with self._collection_may_vanish():
            return await self.store.facet(key, limit=count, filter=query_filter, exact=bool(exact))

    async def duplicates(
        self,
        *,
        threshold: float | None = None,
        filter: models.Filter | None = None,
        **where: Any,
    ) -> list[DuplicateGroup]:
        """Groups of near-identical photos among those matching the filters, largest first
        (see ``ImageSearch.duplicates``); the vector comparison runs in a worker thread."""
        check_threshold(threshold)
        query_filter = build_filter(filter, where)
        await self.check()
        with self._collection_may_vanish():
            return await find_duplicates_async(self.store, threshold=threshold, filter=query_filter)

    async def _lookup(self, photo_id: str, source: str | None) -> Record:
        with self._collection_may_vanish():
            records = await self.store.retrieve(_candidate_ids(photo_id, source), with_vectors=True)
            if not records:
                records, _ = await self.store.scroll(limit=1, filter=_photo_filter(photo_id, source), with_vectors=True)
        if not records:
            raise _unknown_photo(photo_id, self.store.collection)
        return records[0]

    async def _query(
        self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray] = ()
    ) -> list[Hit]:
        await self.check()
        self._check_keywords(self.store, options)
        if options.rerank is not None:
            return _hits(await self._diverse(vector, options, avoid))
        if options.mode != "vector":
            end = options.offset + options.limit
            return _hits((await self._head(vector, options, avoid, end, with_vectors=False))[options.offset :])
        call = self._store_query(
            self.store, vector, options, avoid, limit=options.limit, offset=options.offset, with_vectors=False
        )
        with self._collection_may_vanish():
            records = await call()
        return _hits(records)

    async def _head(
        self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray], end: int, with_vectors: bool
    ) -> list[ScoredRecord]:
        """The first ``end`` records of a keyword or hybrid search in the library's order (see ``ImageSearch``)."""
        window = end + 1
        while True:
            call = self._store_query(
                self.store, vector, options, avoid, limit=window, offset=0, with_vectors=with_vectors
            )
            with self._collection_may_vanish():
                records = await call()
            wider = self._next_window(records, end, window)
            if wider is None:
                return self._ranked(records, end)
            window = wider

    async def _diverse(
        self, vector: np.ndarray | None, options: _Options, avoid: Sequence[np.ndarray]
    ) -> list[ScoredRecord]:
        asked = self._candidates_wanted(options, 0)
        while True:
            if options.mode != "vector":
                records = await self._head(vector, options, avoid, asked, with_vectors=True)
            else:
                call = self._store_query(self.store, vector, options, avoid, limit=asked, offset=0, with_vectors=True)
                with self._collection_may_vanish():
                    records = await call()
            if self._exhausted(options, records, asked):
                return self._reranked(options, records)
            asked = self._candidates_wanted(options, asked)

    async def close(self) -> None:
        """Release the store."""
        await self.store.close()

    async def __aenter__(self) -> AsyncImageSearch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
