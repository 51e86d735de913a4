"""deploy/Dockerfile and .dockerignore: what can be checked without a Docker engine."""

from __future__ import annotations

import json
import re

from compose_files import DOCKERFILE, REPO


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def last(keyword: str) -> str:
    values = [rest for kw, rest in instructions() if kw == keyword]
    assert values, f"the Dockerfile has no {keyword}"
    return values[-1]


def test_base_is_a_pinned_cuda_pytorch_image() -> None:
    base = last("FROM")
    match = re.fullmatch(r"pytorch/pytorch:(\d+\.\d+\.\d+)-cuda[\d.]+-cudnn\d+-runtime", base)
    assert match, f"pin a CUDA runtime tag of pytorch/pytorch, not {base!r}"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"torch==([\d.]+)"', pyproject)
    assert pinned and pinned[1] == match[1], "the image's torch must be the one pyproject.toml pins"


def test_runs_as_a_non_root_user() -> None:
    user = last("USER")
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    order = [kw for kw, _ in instructions()]
    # Nothing after USER may need root: the last RUN comes before it.
    assert max(i for i, kw in enumerate(order) if kw == "RUN") < order.index("USER")


def test_photoseek_is_the_entrypoint() -> None:
    assert json.loads(last("ENTRYPOINT")) == ["photoseek"]


def test_model_cache_lives_on_a_volume_the_user_owns() -> None:
    hf_home = re.search(r"HF_HOME=(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert hf_home
    assert hf_home[1] in json.loads(last("VOLUME"))
    setup = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    assert re.search(rf"chown \S+ [^&]*{re.escape(hf_home[1])}", setup), "the cache folder must belong to the user"


def test_install_keeps_the_images_torch() -> None:
    install = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    assert "pip install --constraint" in install
    assert "torch.version.cuda" in install, "the build must fail if torch lost its CUDA build"


def test_copied_paths_exist_and_secrets_stay_out() -> None:
    for kw, rest in instructions():
        if kw == "COPY":
            for source in rest.split()[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: no such path"
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".venv", ".git", "data"} <= ignored
