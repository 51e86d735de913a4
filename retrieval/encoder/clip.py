"""The CLIP encoder: text and images into one L2-normalised vector space, with a fast ingest path.

Models load through sentence-transformers, which takes a transformers CLIP folder as well as
the older sentence-transformers CLIP folders (``clip-ViT-B-32``). The standard image path
(``SentenceTransformer.encode(images)``) runs the Hugging Face processor on one core in the
calling process; :meth:`ClipEncoder.encode_pixels` instead takes uint8 batches that worker
processes prepared with :func:`photoseek.retrieval.preprocess.clip_resize_crop`, normalises
them on the device and runs the image tower alone. On a CUDA GPU, :meth:`ClipEncoder.encode_frames`
takes whole decoded pictures and resizes and crops them on the GPU as well
(``retrieval/encoder/device_resize.py``), which leaves the CPU cores only the decode.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from photoseek.errors import ModelError, ModelMismatchError
from photoseek.retrieval.encoder.device_resize import resize_crop_on_device
from photoseek.retrieval.encoder.devices import (
    choose_batch_size,
    choose_device,
    choose_precision,
    keep_freed_cpu_memory,
    torch_dtype,
)
from photoseek.retrieval.encoder.image_tower import lean_image_tower
from photoseek.retrieval.encoder.int8_text import int8_text_tower
from photoseek.retrieval.encoder.model_loading import (
    embedding_dimension,
    fingerprint,
    load_sentence_transformer,
    tower_of,
)
from photoseek.retrieval.encoder.query_cache import QueryCache
from photoseek.retrieval.encoder.text_input import QueryFitter, context_length, text_tokenizer
from photoseek.retrieval.identity import ModelIdentity, check_pairing
from photoseek.retrieval.preprocess import clip_resize_crop

if TYPE_CHECKING:
    from PIL import Image
    from sentence_transformers import SentenceTransformer

    from photoseek.config.settings import ModelSettings

log = logging.getLogger(__name__)


@runtime_checkable
class Encoder(Protocol):
    """Text and images into one space. Every result is float32 [n, dimension], L2-normalised.

    The model identity guard also needs ``identity()`` and ``text_identity()``
    (``photoseek.retrieval.identity.IdentifiedEncoder``); ``ClipEncoder`` has both.
    """

    dimension: int
    image_size: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``."""
        ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Vectors of Pillow images (any mode or size)."""
        ...

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        """Vectors of a uint8 [n, image_size, image_size, 3] batch made by ``clip_resize_crop``."""
        ...

def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return normalised

class ClipEncoder:
    """CLIP text and image encoder on sentence-transformers (see the module docstring).

    Attributes:
        dimension: size of the vectors.
        image_size: the model's input size (the crop ``clip_resize_crop`` makes).
        resize_edge: the size the shortest side is scaled to before the crop.
        device: ``cuda``, ``mps`` or ``cpu``.
        text_context: the most tokens of a query the text model reads (77 for CLIP); a longer
            query is cut, with a warning.
        precision: ``fp32``, ``fp16`` or ``bf16``.
        batch_size: images per batch.
        resizes_on_device: ingest hands whole decoded pictures (:meth:`encode_frames`) rather
            than crops made on the CPU (:meth:`encode_pixels`).
    """

    def __init__(
        self,
        image_model: str,
        text_model: str | None = None,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int | None = None,
        query_cache_size: int = 1024,
        allow_unpaired_text_model: bool = False,
        text_int8_on_cpu: bool = False,
        cpu_threads: int | None = None,
        resize_on_device: bool | None = None,
    ) -> None:
        """Load the models.

        Args:
            image_model: name or folder of the image model.
            text_model: name or folder of the text model; None = the image model.
            device: ``auto`` (cuda, then mps, then cpu), ``cuda``, ``mps`` or ``cpu``.
            precision: ``auto`` (fp16 on GPU, fp32 on CPU), ``fp32``, ``fp16`` or ``bf16``.
            batch_size: images per batch; None = 256 on CUDA, 64 on MPS, 32 on CPU.
            query_cache_size: text queries kept encoded (0 = no cache).
            allow_unpaired_text_model: accept a text model not known to share the image space.
            text_int8_on_cpu: on a CPU, encode queries with int8 text weights (about 2x faster,
                cosine >= 0.998 to float32; see ``retrieval/encoder/int8_text.py``).
            cpu_threads: torch's CPU thread count for this process, set when the model runs on
                the CPU (None = leave torch's default: one per core). torch has one count per
                process; a search service sets it (``ModelSettings.query_threads``), an ingest
                leaves it.
            resize_on_device: resize and crop ingest's pictures on the device (None = on a
                CUDA GPU only; True on the CPU runs the same code there, for tests).

        Raises:
            ModelLoadError: a model cannot be loaded.
            ModelMismatchError: the two models differ in dimension or space.
            ConfigError: the device or precision asked for is not available.
        """
        self.device = choose_device(device)
        if cpu_threads is not None and self.device == "cpu":
            import torch

            torch.set_num_threads(cpu_threads)
        self.precision = choose_precision(precision, self.device)
        self.batch_size = choose_batch_size(batch_size, self.device)
        self._dtype = torch_dtype(self.precision)
        self.image_model_name = image_model
        self.text_model_name = text_model or image_model
        self.image_model = load_sentence_transformer(image_model, self.device)
        same = self.text_model_name.rstrip("/") == image_model.rstrip("/")
        self.text_model = self.image_model if same else load_sentence_transformer(self.text_model_name, self.device)
        # Fingerprints read float32 weights, so take them before any cast to half precision.
        self._image_identity = self._identify(self.image_model, image_model, "image")
        self._text_identity = (
            ModelIdentity(self.text_model_name, self._image_identity.dimension, self._image_identity.fingerprint)
            if same
            else self._identify(self.text_model, self.text_model_name, "text")
        )
        check_pairing(self._text_identity, self._image_identity, allow_unpaired_text_model=allow_unpaired_text_model)
        self.dimension = self._image_identity.dimension
        for model in {id(self.image_model): self.image_model, id(self.text_model): self.text_model}.values():
            model.to(self._dtype)
            model.eval()
        self._tower = tower_of(self.image_model)
        # The same vectors as the tower's own get_image_features, for less work (image_tower.py).
        self._image_forward = (lean_image_tower(self._tower) if self._tower is not None else None) or self._tower
        # A CLIP text tower is called directly (see _encode_text_chunk); any other text model
        # (the multilingual DistilBERT one) goes through SentenceTransformer.encode.
        text_tower = tower_of(self.text_model)
        self._text_tower = (
            text_tower
            if hasattr(text_tower, "get_text_features") and hasattr(self.text_model, "preprocess")
            else None
        )
        self.text_int8 = False
        if text_int8_on_cpu and self.device == "cpu" and self._text_tower is not None:
            quantized = int8_text_tower(self._text_tower)
            if quantized is not None:
                self._text_tower, self.text_int8 = quantized, True
        self._setup_pixels()
        wanted = self.device == "cuda" if resize_on_device is None else resize_on_device
        self.resizes_on_device = bool(wanted) and self._pixels_problem is None
        self._text_tokenizer = text_tokenizer(self.text_model)
        self.text_context = context_length(self.text_model)
        self._fitter = QueryFitter(self._text_tokenizer, self.text_context)
        self._cache = QueryCache(query_cache_size)
        log.info(
            "encoder: image %s, text %s%s, %d-d, %s/%s, batch %d",
            image_model, self.text_model_name, " (int8)" if self.text_int8 else "", self.dimension,
            self.device, self.precision, self.batch_size,
        )

    @classmethod
    def from_settings(cls, model: ModelSettings, *, for_queries: bool = False) -> ClipEncoder:
        """Build the encoder from the ``model`` settings section.

        Args:
            model: the settings section.
            for_queries: the process serves searches: on a CPU, torch runs
                ``model.query_threads`` threads (concurrent queries are served best by few).
        """
        return cls(
            model.image,
            model.text,
            device=model.device,
            precision=model.precision,
            batch_size=model.batch_size,
            query_cache_size=model.query_cache_size,
            allow_unpaired_text_model=model.allow_unpaired_text_model,
            text_int8_on_cpu=model.text_int8_on_cpu,
            cpu_threads=model.query_threads if for_queries else None,
        )

    @staticmethod
    def _identify(model: SentenceTransformer, name: str, modality: str) -> ModelIdentity:
        dimension = embedding_dimension(model)
        if not dimension:
            raise ModelMismatchError(f"model {name} does not report its embedding dimension; is it a CLIP model?")
        source = os.path.abspath(os.path.expanduser(name)) if os.path.isdir(os.path.expanduser(name)) else name
        return ModelIdentity(source, int(dimension), fingerprint(model, modality))

    def _setup_pixels(self) -> None:
        """Read what the fast path needs from the image processor: sizes, mean and std."""
        import torch

        processor = getattr(self.image_model[0], "processor", None)
        images = getattr(processor, "image_processor", processor)
        crop = getattr(images, "crop_size", None) or {}
        size = getattr(images, "size", None) or {}
        crop_size = crop.get("height") if isinstance(crop, dict) else getattr(crop, "height", None)
        edge = size.get("shortest_edge") if isinstance(size, dict) else getattr(size, "shortest_edge", None)
        self._pixels_problem: str | None = None
        if not (self._tower is not None and hasattr(self._tower, "get_image_features")):
            self._pixels_problem = f"model {self.image_model_name} has no image tower"
        elif not crop_size or not edge or not getattr(images, "do_center_crop", True):
            self._pixels_problem = (
                f"the image processor of {self.image_model_name} does not resize the shortest side and "
                "centre crop, which is all the fast path does"
            )
        self.image_size = int(crop_size or edge or 224)
        self.resize_edge = int(edge or self.image_size)
        mean = np.asarray(getattr(images, "image_mean", [0.0, 0.0, 0.0]), dtype=np.float32)
        std = np.asarray(getattr(images, "image_std", [1.0, 1.0, 1.0]), dtype=np.float32)
        rescale = float(getattr(images, "rescale_factor", 1 / 255))
        # (x * rescale - mean) / std as one multiply-add per channel, done on the device.
        self._scale = torch.tensor(rescale / std, device=self.device).view(1, 3, 1, 1)
        self._shift = torch.tensor(-mean / std, device=self.device).view(1, 3, 1, 1)

    def identity(self) -> ModelIdentity:
        """The image model's identity (name or folder, dimension, fingerprint)."""
        return self._image_identity

    def text_identity(self) -> ModelIdentity:
        """The text model's identity."""
        return self._text_identity

    @property
    def cache(self) -> QueryCache:
        """The query-side cache of text vectors."""
        return self._cache

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, float32 [n, dimension], L2-normalised; repeated texts hit the cache.

        Args:
            texts: the queries (any language the text model knows).
        """
        if isinstance(texts, str):
            raise TypeError("encode_text takes a sequence of strings; wrap a single query in a list")
        texts = list(texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            cached = self._cache.get(text)
            if cached is None:
                missing.setdefault(text, []).append(row)
            else:
                out[row] = cached
        if missing:
            import torch

            # Any string is accepted: unpaired surrogates replaced, a very long text shortened
            # (and the model reads only its first ``text_context`` tokens; a warning says so).
            texts_to_encode = [self._fitter.fit(text) for text in missing]
            if self._text_tower is not None:
                # int8 activations are scaled per batch, so each text alone: a query's vector
                # must not depend on what it was batched with.
                step = 1 if self.text_int8 else self.batch_size
                vectors = np.concatenate(
                    [
                        self._encode_text_chunk(texts_to_encode[start : start + step])
                        for start in range(0, len(texts_to_encode), step)
                    ]
                )
            else:
                with torch.inference_mode():
                    vectors = self.text_model.encode(
                        texts_to_encode, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
                    )
            vectors = _l2_normalise(vectors)
            for (text, rows), vector in zip(missing.items(), vectors, strict=True):
                out[rows] = vector
                self._cache.put(text, vector)
        return out

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Vectors of Pillow images through the fast path (same vectors as ingest makes).

        Args:
            images: images of any mode and size.
        """
        if not images:
            return np.empty((0, self.dimension), dtype=np.float32)
        batch = np.stack([clip_resize_crop(image, self.image_size, shortest_edge=self.resize_edge) for image in images])
        return self.encode_pixels(batch)

    def encode_pixels(self, batch: np.ndarray) -> np.ndarray:
        """Vectors of a uint8 [n, image_size, image_size, 3] batch, normalised on the device.

        Args:
            batch: images made by ``clip_resize_crop(image, image_size)``.

        Raises:
            ValueError: the batch has the wrong shape or type.
            ModelError: the model's preprocessing is not the one the fast path reproduces.
        """
        if self._pixels_problem:
            raise ModelError(f"{self._pixels_problem}; encode its images with encode_images instead")
        if self.device == "cpu":
            keep_freed_cpu_memory()
        batch = np.asarray(batch)
        expected = (self.image_size, self.image_size, 3)
        if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(
                f"encode_pixels takes a uint8 array [n, {expected[0]}, {expected[1]}, 3], got "
                f"{batch.dtype} {list(batch.shape)}; make each image with clip_resize_crop(image, {self.image_size})"
            )
        step = self.batch_size
        chunks = [self._encode_chunk(batch[start : start + step]) for start in range(0, len(batch), step)]
        if not chunks:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.concatenate(chunks)

    def encode_frames(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        """Vectors of whole decoded pictures, resized and cropped on the device.

        Args:
            frames: uint8 arrays [height, width, 3], RGB, of any sizes (``decode_frame``); a
                picture already ``image_size`` square passes through unchanged.

        Raises:
            ValueError: a frame is not a uint8 [height, width, 3] array.
            ModelError: the model's preprocessing is not the one the fast path reproduces.
        """
        if self._pixels_problem:
            raise ModelError(f"{self._pixels_problem}; encode its images with encode_images instead")
        if self.device == "cpu":
            keep_freed_cpu_memory()
        step = self.batch_size
        chunks = []
        for start in range(0, len(frames), step):
            pixels = resize_crop_on_device(
                frames[start : start + step], self.image_size, self.device, shortest_edge=self.resize_edge
            )
            chunks.append(self._encode_levels(pixels))
        if not chunks:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.concatenate(chunks)

    def _encode_text_chunk(self, texts: list[str]) -> np.ndarray:
        """A CLIP text tower called directly: ``SentenceTransformer.encode`` spends about 7 ms a
        call walking every parameter of both towers to check their device, a quarter of a
        single query's time on a CPU. Same tokens, same tower, same vectors."""
        import torch

        assert self._text_tower is not None, "only called when the text model is a CLIP text tower"
        if self._text_tokenizer is not None and self.text_context is not None:
            # Truncated here, to the context read from the model's own configuration: an old
            # sentence-transformers CLIP folder has no model_max_length, and its tokenizer
            # would hand the tower more positions than it has.
            features = self._text_tokenizer(
                texts, padding=True, truncation=True, max_length=self.text_context, return_tensors="pt"
            )
        else:
            features = self.text_model.preprocess(texts)
        with torch.inference_mode():
            tokens = {k: v.to(self.device) for k, v in features.items() if isinstance(v, torch.Tensor)}
            embedded = self._text_tower.get_text_features(**tokens)
            if not isinstance(embedded, torch.Tensor):
                embedded = embedded.pooler_output
            out: dict[str, Any] = {"sentence_embedding": embedded}
            for module in list(self.text_model)[1:]:
                out = module(out)
            vectors: np.ndarray = out["sentence_embedding"].float().cpu().numpy()
            return vectors

    def _encode_chunk(self, chunk: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            # Writable and contiguous: torch warns on read-only arrays (np.asarray of a PIL image).
            pixels = torch.from_numpy(np.require(chunk, requirements=["C", "W"]))
            if self.device == "cuda":
                pixels = pixels.pin_memory().to(self.device, non_blocking=True)
            else:
                pixels = pixels.to(self.device)
            return self._encode_levels(pixels.permute(0, 3, 1, 2).float())

    def _encode_levels(self, pixels: Any) -> np.ndarray:
        """Vectors of a float32 [n, 3, size, size] tensor of 0..255 levels on the device."""
        import torch

        with torch.inference_mode():
            pixels = pixels.mul_(self._scale).add_(self._shift)
            features = self._image_forward.get_image_features(pixel_values=pixels.to(self._dtype))
            if not isinstance(features, torch.Tensor):
                features = features.pooler_output
            # Modules after the first (a Dense or Normalize some folders carry) apply as in encode().
            out: dict[str, Any] = {"sentence_embedding": features}
            for module in list(self.image_model)[1:]:
                out = module(out)
            vectors = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=-1)
            return vectors.cpu().numpy()
