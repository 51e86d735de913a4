"""The retrieval library: find photos by text, by example image or by similarity, with metadata filters.

Importing it loads no model and no torch; ``ImageSearch.from_settings()`` does that when called.
"""

from photoseek.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ModelError,
    ModelIdentityError,
    ModelLoadError,
    PhotoNotFound,
    PhotoseekError,
    QueryError,
    StoreError,
    StoreUnavailable,
    UnsupportedFilter,
)
from photoseek.retrieval.async_search import AsyncImageSearch
from photoseek.retrieval.encoder import ClipEncoder, Encoder
from photoseek.retrieval.filters import WHERE_KEYS, build_filter, parse_where
from photoseek.retrieval.hits import Hit, Location
from photoseek.retrieval.schema import point_id
from photoseek.retrieval.search import ImageSearch
from photoseek.retrieval.store.base import VectorStore

__all__ = [
    "WHERE_KEYS",
    "AsyncImageSearch",
    "ClipEncoder",
    "CollectionMismatch",
    "CollectionNotFound",
    "Encoder",
    "Hit",
    "ImageSearch",
    "Location",
    "ModelError",
    "ModelIdentityError",
    "ModelLoadError",
    "PhotoNotFound",
    "PhotoseekError",
    "QueryError",
    "StoreError",
    "StoreUnavailable",
    "UnsupportedFilter",
    "VectorStore",
    "build_filter",
    "parse_where",
    "point_id",
]
