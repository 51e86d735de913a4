"""Loading a model with sentence-transformers, honestly, and fingerprinting what was loaded."""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from photoseek.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Architecture keys that define a model's space; the rest of a config (versions, dtypes,
# attention backends) changes with the library and must not change the fingerprint.
_FINGERPRINT_KEYS = (
    "model_type",
    "projection_dim",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "image_size",
    "patch_size",
    "vocab_size",
    "dim",
    "n_layers",
)


def _load_failure(name: str, exc: BaseException) -> ModelLoadError:
    # Hub ids are "name" or "organisation/name"; anything else was meant as a folder.
    looks_like_path = name.startswith((".", "/", "~")) or name.strip("/").count("/") > 1
    if os.path.isdir(name):
        why = "the folder exists but is not a model sentence-transformers can load"
    elif looks_like_path or os.path.exists(name):
        why = "no such folder"
    else:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get("TRANSFORMERS_OFFLINE")
        why = (
            "it is not a local folder and is not in the Hugging Face cache"
            + (" (HF_HUB_OFFLINE is set)" if offline else " and could not be downloaded (offline?)")
        )
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return ModelLoadError(
        f"could not load model {name!r}: {why} [{type(exc).__name__}: {detail}]. Point "
        "PHOTOSEEK_MODEL__IMAGE and PHOTOSEEK_MODEL__TEXT at a local model folder (one written by "
        "SentenceTransformer.save or CLIPModel.save_pretrained), or download it first"
    )


def load_sentence_transformer(name: str, device: str) -> SentenceTransformer:
    """Load a model with sentence-transformers, never falling back to another model.

    Raises:
        ModelLoadError: the model cannot be loaded; the message says why and what to set.
    """
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # A per-load "Loading weights" bar on every search would bury the command's own output.
    transformers_logging.disable_progress_bar()
    source = os.path.expanduser(name)
    if source.startswith((".", "/", "~")) and not os.path.isdir(source):
        raise _load_failure(name, FileNotFoundError(source))
    try:
        return SentenceTransformer(source, device=device)
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line
        raise _load_failure(name, exc) from exc


def tower_of(model: SentenceTransformer) -> Any:
    """The transformers model under the first sentence-transformers module (CLIPModel for CLIP)."""
    first = model[0]
    return getattr(first, "model", None) or getattr(first, "auto_model", None)


def embedding_dimension(model: SentenceTransformer) -> int | None:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def fingerprint(model: SentenceTransformer, modality: str) -> str:
    """A digest of the model's architecture and of its output projection weights (in float32).

    The weights make two models with one architecture differ; reading them as float32 before
    any cast to half precision keeps the digest the same on every device.
    """
    import torch

    tower = tower_of(model)
    config = tower.config.to_dict() if tower is not None and hasattr(tower, "config") else {}

    def pick(section: dict[str, Any]) -> dict[str, Any]:
        return {key: section[key] for key in _FINGERPRINT_KEYS if key in section}

    summary = {"root": pick(config)}
    for section in ("text_config", "vision_config"):
        if isinstance(config.get(section), dict):
            summary[section] = pick(config[section])
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True).encode())
    projection = getattr(tower, "visual_projection" if modality == "image" else "text_projection", None)
    weight = getattr(projection, "weight", None)
    if weight is None:
        weight = list(model.parameters())[-1]
    digest.update(weight.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]

