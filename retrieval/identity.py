"""The model identity guard: a collection only ever holds vectors of the image model that built it.

Vectors of two models do not share a space, and mixing them fails silently (every search
returns plausible nonsense). So the collection records which image model built it, and
ingest and search refuse to work with another one. A text model other than the image model
is accepted only when it is known to share the image model's space.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from photoseek.errors import ModelIdentityError, ModelMismatchError
from photoseek.retrieval.store.base import METADATA_KEY, VectorStore

# Text models trained into another model's image space (multilingual distillation): text
# model -> the image model whose vectors it can search. A model always pairs with itself.
KNOWN_PAIRS: dict[str, str] = {
    "sentence-transformers/clip-ViT-B-32-multilingual-v1": "sentence-transformers/clip-ViT-B-32",
}

HUB_ORGANISATION = "sentence-transformers"


@dataclass(frozen=True)
class ModelIdentity:
    """What identifies a model's embedding space.

    Attributes:
        name: the hub name or the absolute folder it was loaded from.
        dimension: the size of its vectors.
        fingerprint: a digest of its architecture and projection weights; the same model
            loaded from two places has the same fingerprint.
    """

    name: str
    dimension: int
    fingerprint: str

    def to_record(self) -> dict[str, Any]:
        """The JSON-able record kept in the collection metadata."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ModelIdentity:
        """Read a record written by :meth:`to_record`."""
        return cls(
            name=str(record.get("name", "?")),
            dimension=int(record.get("dimension", 0)),
            fingerprint=str(record.get("fingerprint", "")),
        )

    def describe(self) -> str:
        """One-line description for error messages."""
        return f"{self.name} ({self.dimension}-d, fingerprint {self.fingerprint})"


@runtime_checkable
class IdentifiedEncoder(Protocol):
    """What the guard needs from an encoder: the identities of its two models."""

    def identity(self) -> ModelIdentity:
        """The image model's identity (what built the collection's vectors)."""
        ...

    def text_identity(self) -> ModelIdentity:
        """The text model's identity."""
        ...


def canonical_name(name: str) -> str:
    """A model name in the form the pairing table uses.

    Short sentence-transformers names (``clip-ViT-B-32``) get their organisation, local
    folders become absolute paths, and trailing slashes go.
    """
    name = name.strip().rstrip("/")
    if os.path.isdir(name):
        return os.path.abspath(name)
    if "/" not in name:
        return f"{HUB_ORGANISATION}/{name}"
    return name


def _base_name(name: str) -> str:
    return canonical_name(name).rsplit("/", 1)[-1]


def are_paired(text: ModelIdentity, image: ModelIdentity) -> bool:
    """Whether the text model is known to share the image model's embedding space.

    A model pairs with itself (same name or same fingerprint). Otherwise the pair must be in
    :data:`KNOWN_PAIRS`; a local folder matches a table entry by its last path component, so a
    copy of ``clip-ViT-B-32`` kept in ``/models/clip-ViT-B-32`` pairs like the hub model.
    """
    if canonical_name(text.name) == canonical_name(image.name) or text.fingerprint == image.fingerprint:
        return True
    for text_model, image_model in KNOWN_PAIRS.items():
        if _base_name(text.name) == _base_name(text_model) and _base_name(image.name) == _base_name(image_model):
            return True
    return False


def check_pairing(text: ModelIdentity, image: ModelIdentity, *, allow_unpaired_text_model: bool = False) -> None:
    """Refuse a text model that does not share the image model's space.

    Args:
        text: the text model's identity.
        image: the image model's identity.
        allow_unpaired_text_model: accept any text model of the right dimension.

    Raises:
        ModelMismatchError: the dimensions differ, or the pair is unknown and not allowed.
    """
    if text.dimension != image.dimension:
        raise ModelMismatchError(
            f"text model {text.name} makes {text.dimension}-d vectors but image model {image.name} makes "
            f"{image.dimension}-d ones; set PHOTOSEEK_MODEL__TEXT to a model of the image model's space"
        )
    if allow_unpaired_text_model or are_paired(text, image):
        return
    raise ModelMismatchError(
        f"text model {text.name} is not known to share the embedding space of image model {image.name}; "
        "use the same model for both, a known pair (clip-ViT-B-32-multilingual-v1 with clip-ViT-B-32), "
        "or set PHOTOSEEK_MODEL__ALLOW_UNPAIRED_TEXT_MODEL=true if you know they match"
    )


def identity_in_metadata(metadata: Mapping[str, Any]) -> ModelIdentity | None:
    """The image model recorded in a collection's metadata, or None when it has no record."""
    record = metadata.get(METADATA_KEY)
    if not isinstance(record, Mapping) or not isinstance(record.get("image_model"), Mapping):
        return None
    return ModelIdentity.from_record(record["image_model"])


def stored_identity(store: VectorStore) -> ModelIdentity | None:
    """The image model recorded in the collection, or None when it has no record."""
    return identity_in_metadata(store.get_metadata())


def check_metadata(
    metadata: Mapping[str, Any],
    collection: str,
    encoder: IdentifiedEncoder,
    allow_unpaired_text_model: bool = False,
) -> ModelIdentity | None:
    """:func:`check_identity` on metadata already read (for clients that fetch it themselves).

    Args:
        metadata: the collection's metadata (``CollectionInfo.metadata``).
        collection: the collection's name, for the message.
        encoder: the encoder about to write or query vectors.
        allow_unpaired_text_model: accept a text model not known to share the image model's space.

    Returns:
        the recorded image model identity, or None when the collection has none.

    Raises:
        ModelIdentityError: the collection was built by another image model.
        ModelMismatchError: the encoder's text model does not share its image model's space.
    """
    image = encoder.identity()
    check_pairing(encoder.text_identity(), image, allow_unpaired_text_model=allow_unpaired_text_model)
    recorded = identity_in_metadata(metadata)
    if recorded is None:
        return None
    if recorded.fingerprint != image.fingerprint or recorded.dimension != image.dimension:
        raise ModelIdentityError(
            f"collection {collection!r} was built by image model {recorded.describe()} but the "
            f"configured image model is {image.describe()}; their vectors do not mix. Set "
            "PHOTOSEEK_MODEL__IMAGE back to the collection's model, or use a new collection for this "
            "model with PHOTOSEEK_QDRANT__COLLECTION=<new name>"
        )
    return recorded


def record_identity(store: VectorStore, encoder: IdentifiedEncoder) -> None:
    """Record in the collection which image model builds its vectors (call when creating it).

    Args:
        store: the store holding the collection (it must exist).
        encoder: the encoder whose image model writes the vectors.
    """
    store.set_metadata({METADATA_KEY: {"image_model": encoder.identity().to_record()}})


def check_identity(
    store: VectorStore, encoder: IdentifiedEncoder, allow_unpaired_text_model: bool = False
) -> ModelIdentity | None:
    """Refuse an encoder whose models do not fit the collection.

    A collection without a record (made by hand, or before the guard existed) is accepted;
    the caller may record the identity then.

    Args:
        store: the store holding the collection.
        encoder: the encoder about to write or query vectors.
        allow_unpaired_text_model: accept a text model not known to share the image model's space.

    Returns:
        the recorded image model identity, or None when the collection has none.

    Raises:
        ModelIdentityError: the collection was built by another image model.
        ModelMismatchError: the encoder's text model does not share its image model's space.
    """
    return check_metadata(store.get_metadata(), store.collection, encoder, allow_unpaired_text_model)
