"""The settings an evaluation compares: each text model, searched with HNSW and (``--compare``) exactly,
in each search mode and with diversity."""

from __future__ import annotations

from collections.abc import Sequence

from photoseek.config.settings import Settings
from photoseek.evaluation.runner import Setting
from photoseek.retrieval.diversity import DEFAULT_MMR_LAMBDA
from photoseek.retrieval.encoder import ClipEncoder, Encoder
from photoseek.retrieval.search import ImageSearch
from photoseek.retrieval.store.base import VectorStore


def text_encoder(settings: Settings, text_model: str) -> ClipEncoder:
    """A CLIP encoder with the configured image model and ``text_model`` for the queries.

    Raises:
        ModelLoadError: the model cannot be loaded.
        ModelMismatchError: the text model is not known to share the image model's space
            (unless PHOTOSEEK_MODEL__ALLOW_UNPAIRED_TEXT_MODEL is set).
    """
    model = settings.model.model_copy(update={"text": text_model})
    return ClipEncoder.from_settings(model)


# What ``--compare`` adds with ``modes``: (title, mode, fusion, MMR lambda, collapse). The
# diversity rows run in the default mode, like the ``hnsw`` row they are read against.
COMPARED_MODES: tuple[tuple[str, str | None, str | None, float | None, bool], ...] = (
    ("vector", "vector", None, None, False),
    ("keyword", "keyword", None, None, False),
    ("hybrid-rrf", "hybrid", "rrf", None, False),
    ("hybrid-dbsf", "hybrid", "dbsf", None, False),
    (f"mmr-{DEFAULT_MMR_LAMBDA:g}", None, None, DEFAULT_MMR_LAMBDA, False),
    ("collapse", None, None, None, True),
)


def build_settings(
    settings: Settings,
    store: VectorStore,
    *,
    text_models: Sequence[str] = (),
    compare: bool = False,
    modes: bool = False,
    encoders: dict[str, Encoder] | None = None,
) -> list[Setting]:
    """One ``Setting`` per text model and way of searching, all on one store.

    Args:
        settings: the configuration (image model, device, retrieval defaults).
        store: the collection to search.
        text_models: the text models to compare; empty = the configured one.
        compare: search each way (HNSW and exact); otherwise only the configured way
            (PHOTOSEEK_RETRIEVAL__EXACT).
        modes: with ``compare``, also each search mode (vector, keyword, hybrid with RRF and
            with DBSF) and diversity (MMR at lambda 0.5, collapsed duplicates), with HNSW.
        encoders: encoders already loaded, by text model name (reused, not loaded again).
    """
    names = list(dict.fromkeys(text_models)) or [settings.model.text]
    ways = [False, True] if compare else [settings.retrieval.exact]
    loaded = dict(encoders or {})
    result: list[Setting] = []
    for name in names:
        encoder = loaded.get(name) or text_encoder(settings, name)
        loaded[name] = encoder
        search = ImageSearch(
            store,
            encoder,
            retrieval=settings.retrieval,
            allow_unpaired_text_model=settings.model.allow_unpaired_text_model,
        )
        search.check()  # fail on a model that did not build this collection before any query runs
        result.extend(Setting(search=search, text_model=name, exact=exact) for exact in ways)
        if compare and modes:
            result.extend(
                Setting(search=search, text_model=name, exact=False, mode=mode, fusion=fusion, diversity=mmr,
                        collapse_duplicates=collapse, title=title)
                for title, mode, fusion, mmr, collapse in COMPARED_MODES
            )
    return result
