"""The compose files: valid for docker-compose, and wired the way the README says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compose_files import (
    CLUSTER_COMPOSE,
    COMPOSE_FILES,
    DOCKERFILE,
    ROOT_COMPOSE,
    MissingVariable,
    environment_of,
    interpolate,
    load,
    photoseek_services,
    qdrant_services,
    referenced_variables,
)
from photoseek.config.settings import Settings, load_settings

# What a user sets in .env; everything else keeps the files' defaults.
USER_ENV = {"QDRANT_API_KEY": "test-key"}
# Collection metadata (where photoseek records which model built a collection) came in Qdrant 1.16.
MIN_QDRANT = (1, 16, 0)


def setting_variables() -> set[str]:
    """Every PHOTOSEEK_* variable the Settings model reads, derived from the model itself."""
    names = set()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        for name in model.model_fields:  # type: ignore[union-attr]
            names.add(f"PHOTOSEEK_{section}__{name}".upper())
    return names


def resolved(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(load(path), USER_ENV if env is None else env)


@pytest.fixture(params=COMPOSE_FILES, ids=["root", "cluster"])
def compose_path(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_setting_variables_are_derived_from_the_model() -> None:
    names = setting_variables()
    assert "PHOTOSEEK_QDRANT__URL" in names
    assert "PHOTOSEEK_QDRANT__REPLICATION_FACTOR" in names
    assert "PHOTOSEEK_MODEL__DEVICE" in names


def test_every_photoseek_variable_is_a_real_setting(compose_path: Path) -> None:
    compose = load(compose_path)
    used = {name for name in referenced_variables(compose_path) if name.startswith("PHOTOSEEK_")}
    for service in compose["services"].values():
        used |= {name for name in environment_of(service) if name.startswith("PHOTOSEEK_")}
    assert used, "the worker gets no PHOTOSEEK_ settings at all"
    unknown = used - setting_variables()
    assert not unknown, f"not photoseek settings (typo?): {sorted(unknown)}"


def test_worker_environment_loads_as_valid_settings(compose_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workers = photoseek_services(resolved(compose_path))
    assert workers
    for name, service in workers.items():
        for key, value in environment_of(service).items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        assert settings.qdrant.url is not None and not settings.qdrant.embedded, name
        assert settings.qdrant.api_key is not None
        assert settings.qdrant.api_key.get_secret_value() == USER_ENV["QDRANT_API_KEY"]
        for key in environment_of(service):
            monkeypatch.delenv(key)


def test_workers_talk_to_a_qdrant_service_of_the_same_file(compose_path: Path) -> None:
    compose = resolved(compose_path)
    qdrant = qdrant_services(compose)
    for service in photoseek_services(compose).values():
        url = environment_of(service)["PHOTOSEEK_QDRANT__URL"]
        match = re.fullmatch(r"http://([\w-]+):6333", url)
        assert match and match[1] in qdrant, url


def test_workers_wait_for_qdrant_to_be_healthy(compose_path: Path) -> None:
    compose = resolved(compose_path)
    qdrant = qdrant_services(compose)
    for name, service in photoseek_services(compose).items():
        depends = service.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on needs the long form with a condition"
        assert set(qdrant) <= set(depends), f"{name} does not wait for every Qdrant node"
        for target in qdrant:
            assert depends[target] == {"condition": "service_healthy"}
            assert "healthcheck" in qdrant[target], f"{target} has no healthcheck to wait on"


def test_qdrant_healthcheck_probes_readiness_without_curl(compose_path: Path) -> None:
    for name, service in qdrant_services(resolved(compose_path)).items():
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "bash", "-c"], name
        script = test[3]
        assert "/dev/tcp/127.0.0.1/6333" in script and "GET /readyz" in script
        assert " 200 " in script, "a 503 from a node that is not ready must not count as healthy"
        assert not re.search(r"\b(curl|wget)\b", script), "the qdrant image has neither curl nor wget"


def test_qdrant_image_is_pinned_to_a_version_with_collection_metadata(compose_path: Path) -> None:
    for name, service in qdrant_services(load(compose_path)).items():
        match = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", service["image"])
        assert match, f"{name}: pin a concrete qdrant/qdrant:vX.Y.Z tag, not {service['image']!r}"
        assert tuple(int(part) for part in match.groups()) >= MIN_QDRANT


def test_all_files_use_the_same_qdrant_version() -> None:
    images = {s["image"] for path in COMPOSE_FILES for s in qdrant_services(load(path)).values()}
    assert len(images) == 1, images


def test_ports_bind_to_loopback_by_default(compose_path: Path) -> None:
    compose = resolved(compose_path)
    published = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert published, "nothing is published: the dashboard would be unreachable"
    for port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), port
    assert any(port.endswith(":6333") for port in published) and any(port.endswith(":6334") for port in published)
    # ...and overridable by a variable, for a machine that serves others.
    opened = interpolate(load(compose_path), {**USER_ENV, "QDRANT_BIND": "0.0.0.0"})
    assert all(p.startswith("0.0.0.0:") for s in opened["services"].values() for p in s.get("ports", []))


def test_api_key_is_required_and_shared(compose_path: Path) -> None:
    with pytest.raises(MissingVariable, match="QDRANT_API_KEY"):
        resolved(compose_path, env={})
    compose = resolved(compose_path)
    for name, service in qdrant_services(compose).items():
        assert environment_of(service)["QDRANT__SERVICE__API_KEY"] == USER_ENV["QDRANT_API_KEY"], name


def test_gpu_worker_reserves_an_nvidia_gpu(compose_path: Path) -> None:
    service = resolved(compose_path)["services"]["ingest"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert environment_of(service)["PHOTOSEEK_MODEL__DEVICE"] == "cuda"


def test_worker_runs_the_unsplash_ingest_on_the_mounted_dataset(compose_path: Path) -> None:
    for name, service in photoseek_services(resolved(compose_path)).items():
        command = service["command"]
        assert command[:2] == ["ingest", "unsplash"], name
        dataset = command[2]
        mounts = {m.split(":")[1]: m for m in service["volumes"]}
        assert dataset in mounts and mounts[dataset].endswith(":ro"), f"{name}: {dataset} is not mounted read-only"
        assert mounts["/cache/huggingface"].split(":")[0] in load(compose_path)["volumes"], "model cache is no volume"


def test_root_file_offers_a_worker_without_gpu() -> None:
    services = resolved(ROOT_COMPOSE)["services"]
    cpu = services["ingest-cpu"]
    assert "deploy" not in cpu, "the CPU worker must not reserve a GPU"
    assert environment_of(cpu)["PHOTOSEEK_MODEL__DEVICE"] == "cpu"
    # Neither worker starts by default: `docker compose up` on a machine without a GPU must work.
    assert services["ingest"]["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    assert "profiles" not in services["qdrant"]


def test_cluster_has_three_peers_and_one_bootstrap_node() -> None:
    compose = resolved(CLUSTER_COMPOSE)
    nodes = qdrant_services(compose)
    assert len(nodes) == 3
    uris: dict[str, str] = {}
    bootstraps: dict[str, str | None] = {}
    for name, service in nodes.items():
        assert environment_of(service)["QDRANT__CLUSTER__ENABLED"] == "true", name
        args = service["command"]
        uris[name] = args[args.index("--uri") + 1]
        bootstraps[name] = args[args.index("--bootstrap") + 1] if "--bootstrap" in args else None
        assert uris[name] == f"http://{name}:6335"
    first = [name for name, url in bootstraps.items() if url is None]
    assert len(first) == 1, "exactly one node starts the cluster"
    for name, url in bootstraps.items():
        if url is not None:
            assert url == uris[first[0]], f"{name} must bootstrap from {first[0]}"
            assert compose["services"][name]["depends_on"][first[0]] == {"condition": "service_healthy"}
    assert len({s["volumes"][0].split(":")[0] for s in nodes.values()}) == 3, "nodes must not share storage"


def test_cluster_collection_is_sharded_and_replicated(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = resolved(CLUSTER_COMPOSE)["services"]["ingest"]
    for key, value in environment_of(worker).items():
        monkeypatch.setenv(key, value)
    qdrant = load_settings().qdrant
    assert qdrant.replication_factor == 2
    assert qdrant.shard_number is not None and qdrant.shard_number >= 3
    assert worker["command"][-2:] == ["--shard", "0/1"]
    sharded = interpolate(load(CLUSTER_COMPOSE), {**USER_ENV, "SHARD": "2", "SHARDS": "3"})["services"]["ingest"]
    assert sharded["command"][-1] == "2/3"
    # Workers sharing the state volume must not write the same failures file.
    failures_file = "PHOTOSEEK_INGEST__FAILURES_FILE"
    assert environment_of(sharded)[failures_file] != environment_of(worker)[failures_file]


def test_worker_command_parses_with_the_real_cli(compose_path: Path) -> None:
    from photoseek.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if "ingest" not in commands:
        pytest.skip("the ingest subcommand is not in this tree yet")
    for name, service in photoseek_services(resolved(compose_path)).items():
        try:
            parser.parse_args(service["command"])
        except SystemExit as exc:  # argparse exits on a bad command line
            pytest.fail(f"{name}: photoseek rejects {service['command']}: exit {exc.code}")


def test_model_cache_volume_is_the_images_hf_home(compose_path: Path) -> None:
    hf_home = re.search(r"HF_HOME=(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert hf_home
    for name, service in photoseek_services(resolved(compose_path)).items():
        targets = [m.split(":")[1] for m in service["volumes"]]
        assert hf_home[1] in targets, f"{name} does not keep the model cache on a volume"


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file(compose_path: Path, tmp_path: Path) -> None:
    # An empty env file, so that a developer's .env cannot change the outcome.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = ["docker-compose", "--env-file", str(empty), "-f", str(compose_path), "config", "-q"]
    bare = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    ok = subprocess.run(command, env={**bare, **USER_ENV}, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(command, env=bare, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "QDRANT_API_KEY" in refused.stderr
