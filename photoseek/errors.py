"""The one error tree of photoseek.

    PhotoseekError                  base of everything photoseek raises on purpose
    ├── ConfigError                 a setting is invalid (names the PHOTOSEEK_* variable)
    ├── ModelError
    │   ├── ModelLoadError          a model cannot be loaded (offline, no such folder)
    │   ├── ModelMismatchError      text and image models differ in dimension or space
    │   └── ModelIdentityError      the collection was built by another image model
    ├── StoreError
    │   ├── StoreUnavailable        the server cannot be reached (after retries): transient
    │   ├── StoreLocked             the embedded data folder is open in another process
    │   ├── CollectionNotFound      the collection does not exist yet
    │   ├── CollectionMismatch      vector size or distance differ from the model's
    │   └── UnsupportedFilter       a filter condition the embedded engine cannot run
    ├── QueryError (also ValueError) a query is empty or a filter argument is invalid
    │   ├── PhotoNotFound           ``similar()`` names a photo that is not in the collection
    │   └── KeywordsMissing         a keyword or hybrid search on a collection without the keyword side
    ├── SourceError                 an input folder or dataset cannot be read at all
    └── ItemError                   one input item failed; it carries a short ``reason``
        ├── TransientItemError      worth a retry (timeout, 5xx, 429, reset connection)
        └── PermanentItemError      retrying will not help (404, not an image, truncated)

A bad item is recorded with its reason and the job goes on; a broken dependency raises and
the command exits non-zero with one clear line.
"""

from __future__ import annotations


class PhotoseekError(Exception):
    """Base class of every error photoseek raises on purpose."""


class ConfigError(PhotoseekError, ValueError):
    """A setting is invalid; the message names the variable and what is wrong with it."""


class ModelError(PhotoseekError):
    """A model problem."""


class ModelLoadError(ModelError):
    """A model cannot be loaded (no network, no cache, not a CLIP folder)."""


class ModelMismatchError(ModelError):
    """The text and image models cannot be used together (dimension or embedding space)."""


class ModelIdentityError(ModelError):
    """The collection was built by another image model than the one configured."""


class StoreError(PhotoseekError):
    """A vector store problem."""


class StoreUnavailable(StoreError):
    """The Qdrant server could not be reached or kept failing after retries."""


class StoreLocked(StoreError):
    """The embedded store's data folder is open in another process."""


class CollectionNotFound(StoreError):
    """The collection does not exist."""


class CollectionMismatch(StoreError):
    """The collection's vector size or distance differs from what the model produces."""


class UnsupportedFilter(StoreError, ValueError):
    """A filter uses a condition the embedded engine cannot translate."""


class QueryError(PhotoseekError, ValueError):
    """A query or a filter argument is invalid (empty text, unknown field, impossible range)."""


class PhotoNotFound(QueryError):
    """A photo named by id is not in the collection (a service may answer 404)."""


class KeywordsMissing(QueryError):
    """A keyword or hybrid search on a collection built without the keyword (BM25) side.

    The message names the command that adds it (``photoseek keywords add``).
    """


class SourceError(PhotoseekError):
    """An input folder or dataset cannot be read at all (missing, not a dataset)."""


class ItemError(PhotoseekError):
    """One input item failed at one stage. ``reason`` is a short code such as ``http_404``."""

    # Set by the fetcher: how many requests the item took, and the server's Retry-After (seconds).
    attempts: int = 1
    retry_after: float | None = None

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TransientItemError(ItemError):
    """An item failure worth retrying later (timeout, 5xx, 429, connection reset)."""


class PermanentItemError(ItemError):
    """An item failure that retrying will not fix (404, not an image, truncated file)."""
