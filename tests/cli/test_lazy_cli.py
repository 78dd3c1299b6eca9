"""The one-shot CLI imports only what the command it runs needs: `reconciler --help` lists every
command from `main.COMMANDS` without importing their modules or any heavy library."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from reconciler.cli import main

HEAVY = ("asyncssh", "numpy", "jsonschema", "ruamel", "podman", "cryptography", "requests",
         "watchdog", "sqlite3", "pyrage", "yaml")  # fmt: skip

PROBE = """
import json, sys
from reconciler.cli import main
try:
    main.main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(*argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize("argv", [("--help",), ("version",), ("--version",), ()])
def test_help_and_version_import_no_command_module_and_no_heavy_library(
    argv: tuple[str, ...],
) -> None:
    modules = _modules_after(*argv)
    assert _heavy(modules) == []
    commands = sorted(m for m in modules if m.startswith("reconciler.cli.") and m not in (
        "reconciler.cli.main", "reconciler.cli.version"))  # fmt: skip
    assert commands == []


def test_a_command_imports_its_own_module_only() -> None:
    modules = _modules_after("validate", "--help")
    assert "reconciler.cli.validate" in modules
    assert "reconciler.cli.daemon" not in modules
    assert "reconciler.cli.execcmd" not in modules


def _help_lines(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: str(choice.help) for choice in action._choices_actions}


def test_the_table_says_what_each_module_registers() -> None:
    full = _help_lines(main.build_parser())  # every module imported and registered
    listed = _help_lines(main.build_parser(()))  # none imported: the table's words
    assert list(listed) == list(full)
    assert listed == full


@pytest.mark.parametrize("command", [c.name for c in main.COMMANDS])
def test_each_command_help_still_works(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: reconciler {command}" in capsys.readouterr().out


def test_the_command_is_the_first_word_not_an_option() -> None:
    assert main.command_named(["--version"]) is None
    assert main.command_named(["-h", "diff", "x"]) == "diff"
    assert main.command_named(["apply", "repo", "-q"]) == "apply"
    assert main.command_named(["--", "apply"]) is None


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main.main(["bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
