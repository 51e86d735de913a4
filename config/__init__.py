"""Settings for every part of photoseek, read once from the environment or a ``.env`` file."""

from photoseek.config.settings import (
    IngestSettings,
    ModelSettings,
    QdrantSettings,
    RetrievalSettings,
    ServeSettings,
    Settings,
    load_settings,
)

__all__ = [
    "IngestSettings",
    "ModelSettings",
    "QdrantSettings",
    "RetrievalSettings",
    "ServeSettings",
    "Settings",
    "load_settings",
]
