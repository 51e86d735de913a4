"""One ``Settings`` object, built once from ``PHOTOSEEK_*`` variables and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from photoseek.errors import ConfigError

DEFAULT_MODEL = "sentence-transformers/clip-ViT-B-32"

# Hosts the Unsplash image CDN serves photos from; the default allow-list for downloads.
UNSPLASH_IMAGE_HOSTS = ("images.unsplash.com", "plus.unsplash.com", "unsplash.com")


SHARD_FORM = "k/n with 0 <= k < n, e.g. 0/4"


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """Return ``shard`` when it is ``(k, n)`` with ``0 <= k < n``.

    Raises:
        ValueError: otherwise.
    """
    k, n = shard
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"shard must be {SHARD_FORM}, got {k}/{n}")
    return shard


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"k/n"`` (``0 <= k < n``) into ``(k, n)``: the one parser of the ``shard`` setting.

    Raises:
        ValueError: when the text is not of that form.
    """
    try:
        k_text, n_text = text.split("/")
        shard = (int(k_text), int(n_text))
    except ValueError:
        raise ValueError(f"shard must be {SHARD_FORM}, got {text!r}") from None
    return check_shard(shard)


class QdrantSettings(BaseModel):
    """Where vectors live: the embedded Qdrant Edge store (no ``url``) or a Qdrant server."""

    url: str | None = Field(None, description="Qdrant server URL; unset = embedded store under `path`")
    path: Path = Field(Path("./data/qdrant"), description="data folder of the embedded store")
    api_key: SecretStr | None = Field(None, description="API key of the Qdrant server (never printed)")
    collection: str = Field("unsplash", description="collection name")
    prefer_grpc: bool = Field(True, description="talk gRPC (port 6334) to the server when possible")
    grpc_port: int = Field(6334, ge=1, le=65535)
    timeout: float = Field(30.0, gt=0, description="seconds per server request")
    retries: int = Field(5, ge=0, le=50, description="retries of a transient server error")
    shard_number: int | None = Field(None, ge=1, description="shards of a new collection (cluster)")
    replication_factor: int | None = Field(None, ge=1, description="replicas of each shard (cluster)")
    write_consistency_factor: int | None = Field(None, ge=1)
    # Above the engine's default (100): measured on 25k x 512-d hard (near-uniform) vectors,
    # recall@10 0.69 -> 0.75 for +0.0 ms at 128, 0.88 for +0.7 ms at 256 (benchmarks/search.py).
    hnsw_ef: int | None = Field(128, ge=1, description="search-time HNSW ef (higher: better recall, slower)")
    # Sizes measured with benchmarks/scale.py (README "Sizing"): int8 keeps a quarter of the
    # vector bytes in RAM (the float32 originals on disk, read to rescore), builds the index
    # faster and loses no recall with rescoring, so it is the default for new collections.
    quantization: Literal["int8", "none"] = Field(
        "int8",
        description="vectors of a new collection: int8 in RAM + float32 originals on disk (rescored), "
        "or none = float32 in RAM; an existing collection keeps its own",
    )
    full_scan_threshold_kb: int | None = Field(
        None, ge=1, description="HNSW full-scan threshold of a new collection in KB of vectors; unset = 10000"
    )
    # An exact scan over the matches of a filter costs about 1 ms per 10,000 matches on one
    # core (int8); above this many, a filtered search walks the graph instead.
    exact_filter_limit: int = Field(
        50_000, ge=0, description="embedded store: filters matching at most this many points are searched exactly"
    )

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (e.g. http://localhost:6333)")
        return value.rstrip("/")

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not value or any(c in value for c in "/\\ ") or value in {".", ".."}:
            raise ValueError("must be a non-empty name without slashes or spaces")
        return value

    @property
    def embedded(self) -> bool:
        """True when no server URL is set and the in-process Qdrant Edge store is used."""
        return self.url is None


class ModelSettings(BaseModel):
    """Which CLIP models encode images and text, and on what device."""

    image: str = Field(DEFAULT_MODEL, description="image model: a name or a local folder")
    text: str = Field(DEFAULT_MODEL, description="text model: a name or a local folder")
    device: Literal["auto", "cuda", "mps", "cpu"] = Field("auto", description="auto = cuda, then mps, then cpu")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="auto = fp16 on GPU, fp32 on CPU"
    )
    batch_size: int | None = Field(None, ge=1, le=65536, description="images per batch; unset = per device")
    allow_unpaired_text_model: bool = Field(
        False, description="accept a text model not known to share the image model's space"
    )
    query_cache_size: int = Field(1024, ge=0, description="text queries kept encoded (LRU)")
    text_int8_on_cpu: bool = Field(
        True, description="on a CPU, encode queries with int8 text weights (2x faster, cosine >= 0.998)"
    )
    # Measured with benchmarks/query_threads.py (ViT-B/32 text tower): one thread serves
    # concurrent callers best, and a single caller nearly as well as more (see that script).
    query_threads: int | None = Field(
        1, ge=1, le=1024,
        description="torch CPU threads of a search process (query encoding); unset = torch's default (one per core)",
    )


class IngestSettings(BaseModel):
    """How the ingest worker fetches, decodes and writes."""

    concurrency: int = Field(64, ge=1, le=4096, description="downloads in flight")
    per_host_concurrency: int = Field(32, ge=1, le=4096)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    retries: int = Field(4, ge=0, le=50, description="retries of a transient download error")
    max_download_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    allowed_hosts: str = Field(
        ",".join(UNSPLASH_IMAGE_HOSTS), description="comma-separated download hosts; * for any"
    )
    image_width: int = Field(640, ge=32, le=8192, description="CDN rendition width (?w=)")
    image_quality: int = Field(80, ge=1, le=100, description="CDN JPEG quality (?q=)")
    cache_dir: Path | None = Field(None, description="keep downloaded bytes here, keyed by id")
    decode_workers: int | None = Field(None, ge=1, le=512, description="unset = number of CPU cores")
    max_image_pixels: int = Field(89_478_485, ge=1, description="decompression-bomb limit")
    limit: int | None = Field(None, ge=1, description="stop after this many photos")
    shard: str | None = Field(None, description="k/n: ingest only the k-th of n partitions")
    failures_file: Path | None = Field(None, description="failures JSON lines; unset = beside the data")
    max_file_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="largest local picture file read")
    file_read_timeout: float = Field(30.0, gt=0, description="seconds a local file read may take")
    download_deadline: float = Field(
        60.0, gt=0, description="seconds one photo's download may take in all, retries and backoff included"
    )
    stop_grace: float = Field(
        10.0, gt=0, description="seconds a stopped ingest waits for the photos in flight before leaving them"
    )

    @field_validator("shard")
    @classmethod
    def _shard_form(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        try:
            k, n = parse_shard(value)
        except ValueError:
            raise ValueError(f"must be {SHARD_FORM}") from None  # load_settings adds the value
        return f"{k}/{n}"

    @property
    def shard_parts(self) -> tuple[int, int] | None:
        """``shard`` as ``(k, n)``, or None when the job is not sharded."""
        return parse_shard(self.shard) if self.shard else None

    def allowed_host_list(self) -> tuple[str, ...] | None:
        """The download allow-list, or None when any host is allowed (``*``)."""
        hosts = tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
        return None if "*" in hosts else hosts


# Search modes and fusions (``photoseek.retrieval.modes`` lists them for the CLI and the API).
SearchModeName = Literal["vector", "keyword", "hybrid"]
FusionName = Literal["rrf", "dbsf"]


class RetrievalSettings(BaseModel):
    """Defaults for searches."""

    limit: int = Field(10, ge=1, le=10_000)
    score_threshold: float | None = Field(None, ge=-1.0, le=1.0)
    exact: bool = Field(False, description="exact (brute-force) search instead of HNSW")
    # The default stays the image vector: retrieval/modes.py (DEFAULT_MODE) says why, with the measurements.
    mode: SearchModeName = Field(
        "vector", description="vector (CLIP), keyword (BM25 over the photo's words) or hybrid (both, fused)"
    )
    fusion: FusionName = Field("rrf", description="how hybrid mode fuses its two lists: rrf (ranks) or dbsf (scores)")
    prefetch: int = Field(
        50, ge=1, le=10_000, description="candidates each side of a hybrid search hands to the fusion"
    )

    @field_validator("mode", "fusion", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value
    max_image_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="largest query image (file or upload) read, in bytes"
    )
    image_read_timeout: float = Field(10.0, gt=0, description="seconds reading a query image file may take")


class ServeSettings(BaseModel):
    """The HTTP search service (``photoseek serve``)."""

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 = every interface)")
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(None, description="when set, /v1 routes need `Authorization: Bearer <key>`")
    cors_origins: str = Field("", description="comma-separated origins allowed to call the API from a browser")
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="largest image upload accepted")
    max_image_pixels: int = Field(50_000_000, ge=1, description="decompression-bomb limit for uploads")
    encode_concurrency: int = Field(2, ge=1, le=256, description="text / image encodes running at once")
    request_timeout: float = Field(30.0, gt=0, description="seconds a search may take before a 503")
    photo_folders: str = Field(
        "", description="comma-separated folders thumbnails may be read from (the folders that were ingested)"
    )
    thumbnail_size: int = Field(400, ge=32, le=2048, description="longest side of a thumbnail in pixels")
    public_url: str | None = Field(
        None,
        description="the address browsers reach this service at (http(s)://host[:port][/prefix]); ingest writes "
        "each photo's thumbnail URL there into the payload, which the Qdrant dashboard shows as a picture",
    )

    @field_validator("api_key")
    @classmethod
    def _empty_key(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None or not value.get_secret_value().strip() else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) address such as https://photos.example.org (no query)")
        return value.strip().rstrip("/")

    def cors_origin_list(self) -> list[str]:
        """The CORS origins, an empty list when none are allowed."""
        return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]

    def photo_folder_list(self) -> list[Path]:
        """The folders thumbnails may be read from, resolved."""
        return [Path(part.strip()).expanduser().resolve() for part in self.photo_folders.split(",") if part.strip()]


class Settings(BaseSettings):
    """All photoseek settings. Read from ``PHOTOSEEK_*`` variables and ``.env``.

    Nested fields use ``__``: ``PHOTOSEEK_QDRANT__URL``, ``PHOTOSEEK_MODEL__DEVICE``.
    """

    model_config = SettingsConfigDict(
        env_prefix="PHOTOSEEK_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)


def _variable_name(loc: tuple[int | str, ...]) -> str:
    return "PHOTOSEEK_" + "__".join(str(part).upper() for part in loc)


def load_settings(**overrides: Any) -> Settings:
    """Build ``Settings`` from the environment, turning validation errors into one clear line.

    Args:
        **overrides: section values that take precedence over the environment.

    Raises:
        ConfigError: naming each bad ``PHOTOSEEK_*`` variable and why it is bad.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_variable_name(err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            if "api_key" not in str(err["loc"])
            else f"{_variable_name(err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
