"""``SearchService``: what the routes call. It owns the search client, bounds the encodes and times them."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
import warnings
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import numpy as np
from PIL import Image, UnidentifiedImageError
from qdrant_client import models

from photoseek.config.settings import Settings
from photoseek.errors import CollectionNotFound, QueryError
from photoseek.retrieval import AsyncImageSearch, Hit, build_filter, parse_where, point_id
from photoseek.retrieval.diversity import diversity_options
from photoseek.retrieval.filters import WHERE_KEYS
from photoseek.retrieval.photo_folders import folders_in_metadata
from photoseek.retrieval.schema import SOURCES
from photoseek.retrieval.store.base import Record
from photoseek.serve.errors import RETRY_AFTER_SECONDS, ApiError
from photoseek.serve.metrics import Metrics, timed
from photoseek.serve.schemas import MAX_RERANKED_END, Choice, FilterChoices, SearchOptions

if TYPE_CHECKING:
    from photoseek.retrieval.encoder import Encoder
    from photoseek.retrieval.store.async_server import AsyncVectorStore

T = TypeVar("T")

# The filter choices come from a scan of the payloads: at most this many photos, kept this long.
FACET_SCAN_LIMIT = 50_000
FACET_TTL_SECONDS = 300.0
FACET_TOP = 200
# How long the collection's recorded photo folders are kept before they are read again.
FOLDERS_TTL_SECONDS = 60.0
# Credit links to Unsplash carry these parameters, as its API guidelines ask.
UNSPLASH_REFERRAL = "utm_source=photoseek&utm_medium=referral"


class TimedEncoder:
    """An encoder that records the time of each call; every other attribute is the wrapped encoder's."""

    def __init__(self, encoder: Encoder, metrics: Metrics) -> None:
        self._encoder = encoder
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)

    def encode_text(self, texts: Sequence[str]) -> Any:
        start = time.perf_counter()
        try:
            return self._encoder.encode_text(texts)
        finally:
            self._metrics.encoder.labels("text").observe(time.perf_counter() - start)

    def encode_images(self, images: Sequence[Any]) -> Any:
        start = time.perf_counter()
        try:
            return self._encoder.encode_images(images)
        finally:
            self._metrics.encoder.labels("image").observe(time.perf_counter() - start)


class TimedStore:
    """An async store that records the time of each query; every other attribute is the wrapped store's."""

    def __init__(self, store: AsyncVectorStore, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def query(self, vector: np.ndarray, **kwargs: Any) -> Any:
        return await timed(self._metrics.store, "query", lambda: self._store.query(vector, **kwargs))

    async def query_keywords(self, text: str, **kwargs: Any) -> Any:
        return await timed(self._metrics.store, "query_keywords", lambda: self._store.query_keywords(text, **kwargs))

    async def query_hybrid(self, vector: np.ndarray, text: str, **kwargs: Any) -> Any:
        return await timed(
            self._metrics.store, "query_hybrid", lambda: self._store.query_hybrid(vector, text, **kwargs)
        )

    async def query_batch(self, vectors: np.ndarray, **kwargs: Any) -> Any:
        return await timed(self._metrics.store, "query_batch", lambda: self._store.query_batch(vectors, **kwargs))

    async def retrieve(self, ids: Sequence[str], *, with_vectors: bool = False) -> Any:
        return await timed(
            self._metrics.store, "retrieve", lambda: self._store.retrieve(ids, with_vectors=with_vectors)
        )

    async def scroll(self, **kwargs: Any) -> Any:
        return await timed(self._metrics.store, "scroll", lambda: self._store.scroll(**kwargs))


def coerce_where(where: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword filters from JSON: a string for a number, date, flag or list is read as the CLI reads it.

    Raises:
        QueryError: an unknown key or a value that does not read as what the key takes.
    """
    result: dict[str, Any] = {}
    for name, value in where.items():
        key = WHERE_KEYS.get(name)
        if key is None:
            build_filter(None, {name: value})  # raises the unknown-field error with its hint
        if isinstance(value, str) and key is not None and key.op not in ("match", "text"):
            try:
                value = parse_where([f"{name}={value}"])[name]
            except QueryError:
                raise QueryError(f"where: {name} must be {key.expects} (got {value!r})") from None
        result[name] = value
    build_filter(None, result)  # validate every value before anything is encoded
    return result


def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    """A hit as the API returns it: its fields, its rank, a thumbnail link and a credit link."""
    body = hit.to_json_dict()
    body["rank"] = rank
    body["thumbnail_url"] = f"/v1/photos/{quote(hit.id, safe='')}/thumbnail"
    body["photographer_url"] = None
    if hit.source == "unsplash" and hit.photographer:
        body["photographer_url"] = f"https://unsplash.com/@{quote(hit.photographer)}?{UNSPLASH_REFERRAL}"
    if body.get("page_url") and hit.source == "unsplash" and "?" not in body["page_url"]:
        body["page_url"] = f"{body['page_url']}?{UNSPLASH_REFERRAL}"
    return body


def _candidate_ids(photo_id: str) -> list[str]:
    ids = [point_id(photo_id, source) for source in SOURCES]
    try:
        ids.insert(0, str(uuid.UUID(photo_id)))
    except ValueError:
        pass
    return ids


class SearchService:
    """The search client of one serving process, with its bounds and metrics."""

    def __init__(self, search: AsyncImageSearch, settings: Settings, metrics: Metrics) -> None:
        """Wrap a search client.

        Args:
            search: the async client (its store and encoder already wrapped for timing).
            settings: all settings; ``settings.serve`` bounds the work.
            metrics: where encoder and store times go.
        """
        self.search = search
        self.settings = settings
        self.metrics = metrics
        self.timeout = settings.serve.request_timeout
        self._encodes = asyncio.Semaphore(settings.serve.encode_concurrency)
        self._facets: tuple[float, FilterChoices] | None = None
        self._facet_lock = asyncio.Lock()
        self._folders: tuple[float, list[Path]] | None = None

    @classmethod
    def open(cls, settings: Settings, metrics: Metrics, encoder: Encoder | None = None) -> SearchService:
        """Load the model (unless given) and open the configured store; checks nothing yet.

        Args:
            settings: all settings.
            metrics: the app's metrics.
            encoder: an encoder already loaded (``photoseek serve`` loads it to check the collection first).
        """
        from photoseek.retrieval.encoder import ClipEncoder
        from photoseek.retrieval.store.async_server import open_async_store

        if encoder is None:
            encoder = ClipEncoder.from_settings(settings.model)
        store = TimedStore(open_async_store(settings.qdrant), metrics)
        search = AsyncImageSearch(
            store,
            TimedEncoder(encoder, metrics),
            retrieval=settings.retrieval,
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
        )
        return cls(search, settings, metrics)

    def search_mode(self, mode: str | None, fusion: str | None) -> tuple[str, str | None]:
        """The mode a text search runs in and, for hybrid, its fusion: the request's, else the service's."""
        retrieval = self.settings.retrieval
        chosen = mode or retrieval.mode
        return chosen, (fusion or retrieval.fusion) if chosen == "hybrid" else None

    @staticmethod
    def diversity_applied(options: SearchOptions) -> dict[str, Any]:
        """The reranks a search ran with, as the answer echoes them (the library's defaults filled in)."""
        rerank = diversity_options(options.diversity, options.candidates, options.collapse())
        if rerank is None:
            return {"diversity": None, "candidates": None, "collapse_threshold": None}
        mmr = rerank.mmr_lambda is not None
        return {
            "diversity": rerank.mmr_lambda,
            "candidates": rerank.candidates if mmr else None,
            "collapse_threshold": rerank.collapse_threshold,
        }

    async def close(self) -> None:
        """Release the store."""
        await self.search.close()

    async def _bounded(self, call: Callable[[], Awaitable[T]], *, encodes: bool) -> T:
        async def run() -> T:
            if not encodes:
                return await call()
            async with self._encodes:
                return await call()

        try:
            return await asyncio.wait_for(run(), self.timeout)
        except TimeoutError:
            raise ApiError(
                503, "Timeout", f"the search took longer than {self.timeout:g} s; try again",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None

    async def run_search(self, kind: str, query: Any, options: SearchOptions, *, avoid: Sequence[str] = (),
                         source: str | None = None, modes: Mapping[str, Any] | None = None) -> list[Hit]:
        """One search of any kind.

        Args:
            kind: "text", "image" (bytes), "vector" or "similar_to" (a photo id).
            query: the text, image bytes, vector or photo id.
            options: filters, limit, offset, threshold, diversity.
            avoid: texts to push a text search away from.
            source: where a ``similar_to`` photo came from, when known.
            modes: a text search's ``mode``, ``fusion`` and ``prefetch`` (None or left out: the
                service's defaults, ``settings.retrieval``).
        """
        where = coerce_where(options.where)
        mode = self.search_mode((modes or {}).get("mode"), None)[0] if kind == "text" else "vector"
        threshold = options.score_threshold
        if mode == "vector" and threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ApiError(
                422, "ValidationError",
                f"score_threshold: a cosine between -1 and 1 in vector mode (got {threshold:g}); "
                "only keyword and hybrid scores go higher",
                field="score_threshold",
            )
        common: dict[str, Any] = dict(
            limit=options.limit, offset=options.offset, score_threshold=threshold, exact=options.exact,
        )
        if options.diversity is not None or options.collapse_duplicates:
            end = options.offset + (options.limit or self.settings.retrieval.limit)
            if end > MAX_RERANKED_END:
                raise ApiError(
                    422, "ValidationError",
                    f"offset: with diversity or collapse_duplicates, offset + limit must be at most "
                    f"{MAX_RERANKED_END} (got {end}); turn them off to page further",
                    field="offset",
                )
            common.update(
                diversity=options.diversity, candidates=options.candidates, collapse_duplicates=options.collapse()
            )
        if kind == "text":
            chosen = {name: value for name, value in (modes or {}).items() if value is not None}
            return await self._bounded(
                lambda: self.search.search(query, avoid=list(avoid), **chosen, **common, **where), encodes=True
            )
        if kind == "image":
            check_image(query, self.settings.serve.max_image_pixels)
            return await self._bounded(lambda: self.search.search_by_image(query, **common, **where), encodes=True)
        if kind == "vector":
            vector = self._vector(query)
            return await self._bounded(lambda: self.search.search_by_vector(vector, **common, **where), encodes=False)
        # similar()'s own `source` names where the photo is looked up; a `source` filter on the
        # results goes in as a Qdrant filter, as the CLI does.
        result_source = where.pop("source", None)
        if result_source is not None:
            common["filter"] = build_filter(None, {"source": result_source})
        return await self._bounded(
            lambda: self.search.similar(query, source=source, **common, **where), encodes=False
        )

    def _vector(self, values: Sequence[float]) -> np.ndarray:
        vector = np.asarray(values, dtype=np.float32)
        dimension = int(self.search.encoder.dimension)
        if vector.shape != (dimension,):
            raise ApiError(422, "ValidationError", f"vector: must hold {dimension} numbers (got {vector.size})",
                           field="vector")
        if not np.isfinite(vector).all() or not np.any(vector):
            raise ApiError(422, "ValidationError", "vector: must be finite and not all zero", field="vector")
        return vector

    async def photo(self, photo_id: str) -> Record:
        """The stored photo with this id (source id or point id), without its vector.

        Raises:
            ApiError: 404 when there is no such photo.
        """
        if not photo_id.strip():
            raise ApiError(404, "PhotoNotFound", "no photo id given")
        store = self.search.store
        try:
            records = await store.retrieve(_candidate_ids(photo_id))
            if not records:
                match = models.FieldCondition(key="photo_id", match=models.MatchValue(value=photo_id))
                records, _ = await store.scroll(limit=1, filter=models.Filter(must=[match]))
        except CollectionNotFound:
            from photoseek.retrieval.search import missing_collection

            raise missing_collection(store) from None
        if not records:
            raise ApiError(
                404, "PhotoNotFound",
                f"no photo {photo_id!r} in collection {store.collection!r}; give a stored photo_id "
                "(the Unsplash id, or the path relative to the ingested folder) or a point id",
            )
        return records[0]

    async def ingested_folders(self) -> list[Path]:
        """The folders the collection's local photos were ingested from (read again after a minute)."""
        now = time.monotonic()
        if self._folders is None or now - self._folders[0] > FOLDERS_TTL_SECONDS:
            info = await self.search.store.info()
            self._folders = (now, folders_in_metadata(info.metadata))
        return self._folders[1]

    async def info(self) -> dict[str, Any]:
        """The collection, its size, the model and the backend."""
        store = self.search.store
        info = await store.info()
        record = info.metadata.get("photoseek", {}).get("image_model")
        return {
            "collection": info.name,
            "backend": info.backend,
            "count": info.points_count,
            "vector_size": info.vector_size,
            "distance": info.distance,
            "model": {
                "image": record.get("name") if isinstance(record, dict) else self.settings.model.image,
                "text": self.settings.model.text,
            },
            "indexed_fields": sorted(info.indexed_fields),
        }

    async def filter_choices(self) -> FilterChoices:
        """Countries, keywords and orientations with their counts, from the collection's payloads (cached)."""
        cached = self._facets
        if cached is not None and time.monotonic() - cached[0] < FACET_TTL_SECONDS:
            return cached[1]
        async with self._facet_lock:
            cached = self._facets
            if cached is not None and time.monotonic() - cached[0] < FACET_TTL_SECONDS:
                return cached[1]
            choices = await self._scan_facets()
            self._facets = (time.monotonic(), choices)
            return choices

    async def _scan_facets(self) -> FilterChoices:
        countries: Tally[str] = Tally()
        keywords: Tally[str] = Tally()
        orientations: Tally[str] = Tally()
        scanned = 0
        offset: str | None = None
        while scanned < FACET_SCAN_LIMIT:
            records, offset = await self.search.store.scroll(limit=1024, offset=offset)
            for record in records:
                payload = record.payload or {}
                location = payload.get("location")
                if isinstance(location, dict) and isinstance(location.get("country"), str):
                    countries[location["country"]] += 1
                words = payload.get("keywords")
                if isinstance(words, list):
                    keywords.update(w for w in words if isinstance(w, str))
                if isinstance(payload.get("orientation"), str):
                    orientations[payload["orientation"]] += 1
            scanned += len(records)
            if offset is None or not records:
                break

        def top(tally: Tally[str]) -> list[Choice]:
            return [Choice(value=v, count=c) for v, c in tally.most_common(FACET_TOP)]

        return FilterChoices(
            country=top(countries), keywords=top(keywords), orientation=top(orientations),
            scanned=scanned, truncated=offset is not None,
        )


def check_image(data: bytes, max_pixels: int) -> None:
    """Refuse what is not an image, or an image too large to decode, from its header alone.

    Raises:
        ApiError: 415 for something Pillow cannot identify, 413 for too many pixels.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it; the check below refuses those anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                width, height = picture.size
    except Image.DecompressionBombError as exc:
        raise ApiError(413, "ImageTooLarge", f"image has too many pixels: {exc}", field="image") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ApiError(
            415, "NotAnImage", f"the upload is not an image Pillow can read (JPEG, PNG, WebP, ...): {exc}",
            field="image",
        ) from None
    if width * height > max_pixels:
        raise ApiError(
            413, "ImageTooLarge",
            f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels} "
            "(PHOTOSEEK_SERVE__MAX_IMAGE_PIXELS)",
            field="image",
        )
