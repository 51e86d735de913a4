"""The keyword side of a collection: a photo's words as one document and its BM25 sparse vector.

Both backends store and query the sparse vector computed here (Qdrant Edge's ``Bm25``: word
tokens, lowercased, ASCII-folded, English stop words out, English stemming), never a server's
own inference, so the embedded store and a server hold the same vectors and give the same
answers. The engine applies the IDF half of BM25 at query time (the sparse vector's ``Idf``
modifier), so a document's vector depends on its own words only and never has to be rewritten
when others are added.

Which words (``document_text``): the photographer's description, the generated description,
the keywords (best first; ``user_keywords`` are left out because they are already among the
keywords, and counting them twice would weigh user suggestions above the AI services' ones),
the place (``location.name``, city, country), the landmark's name, the photographer's username
and full name, and for a folder photo its path relative to the folder (folder and file names
often say what and where: ``2019 Lisbon/tram.jpg``). Colours, topics and collection titles stay
out: they are shared by thousands of photos and say little about one.

A photo without words (``document_vector(...).indices`` empty) gets no keyword vector at all, on
both backends, and loses it when its words go: the IDF statistics count only the points that
have one, and Edge counts only non-empty ones as indexed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import qdrant_edge as qe
from qdrant_client import models

__all__ = [
    "KEYWORDS_VECTOR",
    "document_text",
    "document_vector",
    "edge_sparse_config",
    "has_words",
    "query_vector",
    "server_sparse_config",
    "to_server",
]

# The name of the sparse vector next to the collection's unnamed image vector.
KEYWORDS_VECTOR = "keywords"

# BM25's length normalisation divides by the average document length: a photo's words come to
# about 40 tokens (description, AI description and a dozen keywords), not the 256 Qdrant
# assumes for text passages. k and b stay BM25's usual 1.2 and 0.75.
AVERAGE_DOCUMENT_TOKENS = 40.0

_TEXT_FIELDS = ("description", "ai_description")
_NESTED_FIELDS = (("location", "name"), ("location", "city"), ("location", "country"), ("landmark", "name"))
_NAME_FIELDS = ("photographer", "photographer_name")

_model: qe.Bm25 | None = None
_model_lock = threading.Lock()


def _bm25() -> qe.Bm25:
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                config = qe.Bm25Config(language="english", ascii_folding=True, avg_len=AVERAGE_DOCUMENT_TOKENS)
                _model = qe.Bm25(config)
    return _model


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Sequence):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def document_text(payload: Mapping[str, Any]) -> str:
    """The words of a photo's payload that its keyword vector is built from, one per line.

    Args:
        payload: a photo point's payload (``photoseek.retrieval.schema.FIELDS``).
    """
    parts: list[str] = []
    for name in _TEXT_FIELDS:
        parts += _words(payload.get(name))
    parts += _words(payload.get("keywords"))
    for outer, inner in _NESTED_FIELDS:
        nested = payload.get(outer)
        if isinstance(nested, Mapping):
            parts += _words(nested.get(inner))
    for name in _NAME_FIELDS:
        parts += _words(payload.get(name))
    if payload.get("source") == "folder":
        parts += _words(payload.get("photo_id"))
    return "\n".join(parts)


def document_vector(payload: Mapping[str, Any]) -> qe.SparseVector:
    """The BM25 document vector (term frequencies, length-normalised) of a photo's words."""
    return _bm25().embed_document(document_text(payload))


def has_words(vector: qe.SparseVector) -> bool:
    """Whether a document vector holds any word (an empty one is not stored)."""
    return len(vector.indices) > 0


def query_vector(text: str) -> qe.SparseVector:
    """The BM25 query vector of a text: each distinct word (stemmed, not a stop word) weighs 1.

    An empty vector (only stop words) matches nothing.
    """
    return _bm25().embed_query(text)


def to_server(vector: qe.SparseVector) -> models.SparseVector:
    """The same sparse vector as qdrant-client sends it to a server."""
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def server_sparse_config() -> dict[str, models.SparseVectorParams]:
    """The keyword side of a new server collection: the sparse vector with the IDF modifier."""
    return {KEYWORDS_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)}


def edge_sparse_config() -> dict[str, qe.EdgeSparseVectorParams]:
    """The keyword side of a new embedded collection: the sparse vector with the IDF modifier."""
    return {KEYWORDS_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}
