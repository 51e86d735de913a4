"""pyproject.toml's `packages` names every package folder, so that a wheel holds them all.

setuptools maps only the roots (`package-dir`) and takes the subpackages from an explicit list:
a new folder left off that list works in the editable install and is missing from a wheel.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _setuptools(repo: Path) -> dict[str, Any]:
    with open(repo / "pyproject.toml", "rb") as handle:
        table: dict[str, Any] = tomllib.load(handle)["tool"]["setuptools"]
    return table


def package_folders(repo: Path, package_dir: dict[str, str]) -> dict[str, Path]:
    """Every folder holding an ``__init__.py`` under the mapped roots, by its import name."""
    found: dict[str, Path] = {}
    for name, folder in package_dir.items():
        root = repo / folder
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found[".".join((name, *parts))] = init.parent
    return found


def test_every_package_folder_is_listed() -> None:
    setuptools = _setuptools(REPO)
    folders = package_folders(REPO, setuptools["package-dir"])
    missing = sorted(set(folders) - set(setuptools["packages"]))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_listed_package_has_a_folder() -> None:
    setuptools = _setuptools(REPO)
    folders = package_folders(REPO, setuptools["package-dir"])
    stale = sorted(set(setuptools["packages"]) - set(folders))
    assert not stale, f"listed in pyproject.toml but no folder with an __init__.py: {stale}"


def test_the_four_roots_are_mapped() -> None:
    package_dir = _setuptools(REPO)["package-dir"]
    assert set(package_dir) == {"photoseek", "photoseek.config", "photoseek.retrieval", "photoseek.ingest"}
    assert all((REPO / folder / "__init__.py").is_file() for folder in package_dir.values())


def test_a_new_subpackage_is_found(tmp_path: Path) -> None:
    # The check above is only as good as the walk: a nested folder must come out under its
    # mapped import name, and a folder without __init__.py (data, caches) must not.
    (tmp_path / "retrieval" / "store" / "extra").mkdir(parents=True)
    for folder in ("retrieval", "retrieval/store", "retrieval/store/extra"):
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "retrieval" / "__pycache__").mkdir()
    found = package_folders(tmp_path, {"photoseek.retrieval": "retrieval"})
    assert set(found) == {"photoseek.retrieval", "photoseek.retrieval.store", "photoseek.retrieval.store.extra"}
    assert found["photoseek.retrieval.store.extra"] == tmp_path / "retrieval" / "store" / "extra"
