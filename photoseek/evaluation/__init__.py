"""Retrieval quality: Unsplash search conversions and captioned image sets, scored with ranking metrics."""

from photoseek.evaluation.metrics import (
    hit_at_k,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    recall_at_k,
)
from photoseek.evaluation.queries import Query, QuerySet, build_queries

__all__ = [
    "Query",
    "QuerySet",
    "build_queries",
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "query_metrics",
    "recall_at_k",
]
