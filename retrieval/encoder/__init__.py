"""The CLIP encoder (``clip.py``) and its internals: device choice, model loading, the lean image
tower, the int8 text tower and the query cache."""

from photoseek.retrieval.encoder.clip import ClipEncoder, Encoder

__all__ = ["ClipEncoder", "Encoder"]
