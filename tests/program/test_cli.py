"""The ``photoseek`` parser: every command module loads, and one that cannot load stops it loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import photoseek.commands
from photoseek import cli


def _commands(parser: object) -> set[str]:
    subparsers = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return set(subparsers.choices)


def test_every_command_module_registers_its_command() -> None:
    assert _commands(cli.build_parser()) == set(cli.COMMAND_MODULES)


def test_a_missing_command_module_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "nosuchcommand"))
    with pytest.raises(cli.CommandLoadError, match=r"'nosuchcommand'.*photoseek\.commands\.nosuchcommand") as excinfo:
        cli.build_parser()
    assert isinstance(excinfo.value.__cause__, ModuleNotFoundError)


def test_a_command_module_that_fails_inside_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A real module file whose own import fails, as when an optional dependency is not installed.
    (tmp_path / "broken.py").write_text("import photoseek_dependency_that_is_not_installed\n")
    monkeypatch.setattr(photoseek.commands, "__path__", [*photoseek.commands.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "photoseek.commands.broken", raising=False)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("info", "broken"))
    with pytest.raises(cli.CommandLoadError) as excinfo:
        cli.build_parser()
    message = str(excinfo.value)
    assert "photoseek.commands.broken" in message
    assert "photoseek_dependency_that_is_not_installed" in message


def test_the_program_exits_non_zero_and_names_the_module(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from photoseek import cli\n"
        "cli.COMMAND_MODULES = (*cli.COMMAND_MODULES, 'nosuchcommand')\n"
        "sys.exit(cli.main(['--help']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "photoseek.commands.nosuchcommand" in done.stderr
    assert "usage:" not in done.stdout
