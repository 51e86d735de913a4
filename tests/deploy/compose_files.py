"""Reading the compose files the way Compose does: YAML, then ``${VAR...}`` interpolation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ROOT_COMPOSE = REPO / "docker-compose.yml"
CLUSTER_COMPOSE = REPO / "deploy" / "cluster" / "docker-compose.yml"
COMPOSE_FILES = (ROOT_COMPOSE, CLUSTER_COMPOSE)
DOCKERFILE = REPO / "deploy" / "Dockerfile"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(KeyError):
    """A ``${NAME:?...}`` variable is unset: Compose refuses the file."""


def load(path: Path) -> dict[str, Any]:
    """The compose file as YAML (anchors and ``<<`` merges applied), not yet interpolated."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def referenced_variables(path: Path) -> set[str]:
    """Names of every variable the file interpolates (``$$`` is an escaped dollar, skipped)."""
    text = path.read_text(encoding="utf-8").replace("$$", "")
    return {match["name"] for match in _VARIABLE.finditer(text)}


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Resolve ``${...}`` in every string of ``value`` as Compose does, given ``env``."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    parts = value.split("$$")
    return "$".join(_VARIABLE.sub(replace, part) for part in parts)


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment`` as a dict, whether written as a mapping or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: value for key, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def qdrant_services(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the Qdrant image."""
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("qdrant/qdrant")
    }


def photoseek_services(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from deploy/Dockerfile (the photoseek worker)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if isinstance(service.get("build"), dict) and service["build"].get("dockerfile") == "deploy/Dockerfile"
    }
