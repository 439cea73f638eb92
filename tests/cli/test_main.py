"""The command tree: every command has help, completion scripts exist, bad usage exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run

COMMANDS = [
    "up",
    "deploy",
    "login",
    "logout",
    "whoami",
    "init",
    "dev",
    "trigger",
    "logs",
    "versions",
    "rollback",
    "promote",
    "replay",
    "install",
    "installations",
    "uninstall",
    "disable",
    "enable",
    "streams",
    "sync",
    "cursor",
    "topics",
]


async def test_top_level_help_lists_every_command(tmp_path: Path):
    code, out, _ = await run("--help", env={"XDG_CONFIG_HOME": str(tmp_path), "COLUMNS": "200"})
    assert code == 0
    for command in COMMANDS:
        assert f" {command} " in out, command


@pytest.mark.parametrize("command", ["dev", "trigger", "rollback", "replay", "logs", "install"])
async def test_each_command_explains_itself(command: str, tmp_path: Path):
    code, out, _ = await run(command, "--help", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert code == 0 and "Usage: backfill " + command in out
    # Flags take no value: help shows no type beside them (it used to print `--help <bool>`).
    assert "<bool>" not in out and "--help " in out


async def test_shell_completion_script_is_offered(tmp_path: Path):
    # `--show-completion` finds the shell among the process' ancestors (shellingham); a test
    # run whose launching shell has exited has none ("Shell  not supported", exit 1: the
    # earlier flake). Typer's own switch makes the shell an argument instead.
    env = {"XDG_CONFIG_HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    code, out, err = await run("--show-completion", "bash", env=env)
    assert code == 0 and "complete" in out and "backfill" in out, (code, out[-500:], err[-2000:])


async def test_contradictory_options_are_usage_errors(tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path), "BACKFILL_TOKEN": "t"}
    assert (await run("replay", "inst_1", env=env))[0] == 2
    assert (await run("init", "x-y", env=env, cwd=tmp_path))[0] == 2
    assert (await run("trigger", "a", "--dev", "--installation", "i", env=env))[0] == 2
