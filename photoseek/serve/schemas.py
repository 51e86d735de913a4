"""Request and response bodies of the API (pydantic models; OpenAPI at ``/docs`` is built from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from photoseek.config.settings import FusionName, SearchModeName

# A page may ask for this many hits at most; deeper pages go through ``offset``.
MAX_LIMIT = 1000
MAX_OFFSET = 100_000
QUERY_KINDS = ("text", "image", "vector", "similar_to")
# Candidates each side may bring to a hybrid fusion, at most (a bound on the work of one request).
MAX_PREFETCH = 10_000
# Hits MMR may choose among, at most: each pick weighs every candidate against the picks so far.
MAX_CANDIDATES = 1000
# A reranked search (diversity or collapse_duplicates) pages through this many hits at most: its
# candidates come with their vectors, and collapsing asks for twice the page's end to start with.
MAX_RERANKED_END = 1000
# The library's search modes and fusions (``photoseek.retrieval.modes`` lists the same names).
SearchMode = SearchModeName
Fusion = FusionName


class SearchOptions(BaseModel):
    """What every search takes besides the query itself."""

    model_config = ConfigDict(extra="forbid")

    where: dict[str, Any] = Field(
        default_factory=dict,
        description="keyword filters, the same keys as the library and `photoseek search --where` "
        "(country, orientation, min_width, keywords_any, submitted_after, ...)",
    )
    limit: int | None = Field(None, ge=1, le=MAX_LIMIT, description="how many hits (default: the service's)")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET,
        description=f"hits to skip, for the next page (offset + limit at most {MAX_RERANKED_END} with "
        "diversity or collapse_duplicates)",
    )
    score_threshold: float | None = Field(
        None, allow_inf_nan=False,
        description="leave out hits scoring lower: a cosine in [-1, 1] in vector mode; BM25 and fused scores "
        "(keyword and hybrid modes) can be higher",
    )
    exact: bool | None = Field(None, description="exact search instead of HNSW")
    diversity: float | None = Field(
        None, ge=0.0, le=1.0,
        description="reorder for variety (MMR): its lambda, 1 = relevance only, 0.5 = balanced; the top "
        "`candidates` hits are reordered and the pages end after them; null: off",
    )
    candidates: int | None = Field(
        None, ge=1, le=MAX_CANDIDATES, description="with `diversity`: the hits MMR chooses among (default 100)",
    )
    collapse_duplicates: bool = Field(
        False, description="leave out a hit too close to a better-ranked one (a near-duplicate shot)",
    )
    collapse_threshold: float | None = Field(
        None, gt=0.0, le=1.0,
        description="with `collapse_duplicates`: the cosine at or above which a hit is left out (default 0.95)",
    )

    @field_validator("candidates")
    @classmethod
    def _candidates_need_diversity(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("diversity") is None:
            raise ValueError("goes with diversity (the hits MMR chooses among): give diversity too")
        return value

    @field_validator("collapse_threshold")
    @classmethod
    def _threshold_needs_collapse(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not info.data.get("collapse_duplicates"):
            raise ValueError("goes with collapse_duplicates: give collapse_duplicates true too")
        return value

    def collapse(self) -> bool | float:
        """``collapse_duplicates`` as the library takes it: False, True or the threshold."""
        if not self.collapse_duplicates:
            return False
        return True if self.collapse_threshold is None else self.collapse_threshold


class SearchRequest(SearchOptions):
    """``POST /v1/search``: exactly one of ``text``, ``image``, ``vector`` or ``similar_to``."""

    text: str | None = Field(None, max_length=2000, description="what to look for")
    image: str | None = Field(None, description="an example image, base64 (a data: URL works too)")
    vector: list[float] | None = Field(None, max_length=8192, description="a vector of the collection's space")
    similar_to: str | None = Field(None, max_length=2000, description="a stored photo's id: photos like it")
    source: Literal["unsplash", "folder"] | None = Field(None, description="where `similar_to`'s photo came from")
    avoid: list[str] = Field(default_factory=list, max_length=16, description="texts to push the results away from")
    mode: SearchMode | None = Field(
        None,
        description="text searches: `vector` (CLIP similarity to the pictures), `keyword` (BM25 over the photo's "
        "words: descriptions, keywords, places, photographer) or `hybrid` (both, fused); default: the service's "
        "(PHOTOSEEK_RETRIEVAL__MODE)",
    )
    fusion: Fusion | None = Field(
        None,
        description="hybrid only: `rrf` merges the two rankings by rank, `dbsf` by normalised score; default: "
        "the service's (PHOTOSEEK_RETRIEVAL__FUSION)",
    )
    prefetch: int | None = Field(
        None, ge=1, le=MAX_PREFETCH,
        description="hybrid only: candidates each side brings to the fusion; default: the service's "
        "(PHOTOSEEK_RETRIEVAL__PREFETCH)",
    )

    @model_validator(mode="after")
    def _one_query(self) -> SearchRequest:
        given = [name for name in QUERY_KINDS if getattr(self, name) is not None]
        if len(given) != 1:
            got = f" (got {' and '.join(given)})" if given else ""
            raise ValueError(f"give exactly one of {', '.join(QUERY_KINDS)}{got}")
        if self.avoid and self.text is None:
            raise ValueError("avoid works with a text search")
        if self.text is None and (self.mode not in (None, "vector") or self.fusion or self.prefetch):
            # An image, a vector or a stored photo has no words for the keyword side to match.
            raise ValueError("mode, fusion and prefetch work with a text search (an image has no words to match)")
        return self


class HitOut(BaseModel):
    """One hit: the photo's typed fields, links for the page, and the raw payload."""

    rank: int
    id: str
    score: float
    photo_id: str | None = None
    source: str | None = None
    image_url: str | None = None
    page_url: str | None = None
    thumbnail_url: str | None = None
    description: str | None = None
    photographer: str | None = None
    photographer_name: str | None = None
    photographer_url: str | None = None
    location: dict[str, Any] | None = None
    width: int | None = None
    height: int | None = None
    orientation: str | None = None
    keywords: list[str] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    """The hits of one search, best first, and the time it took in the service."""

    hits: list[dict[str, Any]]
    count: int
    offset: int
    limit: int
    next_offset: int | None = Field(description="the offset of the next page; null when this page was not full")
    took_ms: float
    mode: str | None = Field(None, description="the mode a text search ran in (vector, keyword or hybrid)")
    fusion: str | None = Field(None, description="the fusion of a hybrid search (rrf or dbsf)")
    diversity: float | None = Field(None, description="MMR's lambda the hits were reordered with; null: no MMR")
    candidates: int | None = Field(None, description="the hits MMR chose among (its pages end after them)")
    collapse_threshold: float | None = Field(
        None, description="the cosine near-duplicates were left out at; null: near-duplicates kept",
    )


class Choice(BaseModel):
    """One value of a filter and how many photos have it."""

    value: str
    count: int


class FilterChoices(BaseModel):
    """The values the page offers for its filters, from the collection itself."""

    country: list[Choice]
    keywords: list[Choice]
    orientation: list[Choice]
    scanned: int = Field(description="photos read to count them")
    truncated: bool = Field(description="the collection was larger than what was read")


class ErrorBody(BaseModel):
    """``{"error": {...}}``: every error the API answers."""

    type: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """The one shape of every error."""

    error: ErrorBody
