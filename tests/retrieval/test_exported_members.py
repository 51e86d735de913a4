"""The public API of ``photoseek.retrieval``: exactly what ``__all__`` lists, importable without torch."""

from __future__ import annotations

import subprocess
import sys

from photoseek import retrieval

EXPECTED = {
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
    "WHERE_KEYS",
    "build_filter",
    "parse_where",
    "point_id",
}


def test_all_lists_the_public_api() -> None:
    assert set(retrieval.__all__) == EXPECTED
    assert len(retrieval.__all__) == len(set(retrieval.__all__))


def test_every_exported_member_exists_and_is_documented() -> None:
    for name in retrieval.__all__:
        member = getattr(retrieval, name)
        if callable(member):
            assert member.__doc__, f"{name} has no docstring"
            assert member.__module__.startswith("photoseek."), f"{name} comes from {member.__module__}"
    assert set(retrieval.WHERE_KEYS) >= {"country", "orientation", "near", "text_contains", "min_width"}


def test_importing_the_library_loads_no_model_code() -> None:
    code = (
        "import sys, photoseek.retrieval; "
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'photoseek.ingest') "
        "if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == ""
