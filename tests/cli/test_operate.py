"""install (secrets never in argv), trigger --installation, replay --since, logs, login/whoami."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

from tests.cli.conftest import ROOT, Suite, clean_environment, run, run_json
from tests.harness import eventually

SECRET = "whsec_" + "c2VjcmV0LW5ldmVyLWluLWFyZ3YtMDEyMzQ1Njc4OWFi"  # base64, 32 bytes


async def _install_standard_webhooks(suite: Suite, env: dict[str, str]) -> str:
    """Install through the CLI; the secret goes in on stdin while we watch the process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "install",
        "standard-webhooks",
        "--set",
        "ingest_unmapped=true",
        "--secret",
        "webhook_secret",
        "--json",
        cwd=ROOT,
        env={**clean_environment(), "PYTHONPATH": str(ROOT), **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    seen = await eventually(lambda: cmdline.exists() and cmdline.read_bytes())
    assert b"standard-webhooks" in seen and SECRET.encode() not in seen
    environ = Path(f"/proc/{process.pid}/environ").read_bytes()
    assert SECRET.encode() not in environ
    out, err = await process.communicate(SECRET.encode() + b"\n")
    assert process.returncode == 0, err.decode()
    assert SECRET not in out.decode() + err.decode()
    installation = json.loads(out)
    assert [s["name"] for s in installation["secrets"]] == ["webhook_secret"]
    return str(installation["id"])


async def test_install_trigger_and_replay_since_report_every_delivery(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    env = suite.env(token, tmp_path)
    installation = await _install_standard_webhooks(suite, env)

    sent = []
    for event in ("user.created", "invoice.paid"):
        result = await run_json(
            "trigger", event, "--installation", installation, env=env, stdin=SECRET.encode() + b"\n"
        )
        assert result["status"] == 202, result
        assert result["delivery"]["outcome"] == "accepted" and result["delivery"]["records"] == 1
        sent.append(result["delivery"]["delivery_id"])

    code, _, err = await run(
        "trigger",
        "user.created",
        "--installation",
        installation,
        env=env,
        stdin=b"whsec_d3Jvbmc=\n",
    )
    assert code == 1 and "401" not in err  # a wrong secret: the answer is printed, exit 1

    report = await run_json("replay", installation, "--since", "1h", env=env)
    replayed = [r["delivery_id"] for r in report["results"]]
    assert replayed == sent  # oldest first; the refused one has no stored body
    assert report["summary"]["deliveries"] == 2
    assert (
        report["summary"]["records_duplicate"] == 2 and report["summary"]["records_published"] == 0
    )

    code, out, err = await run("replay", installation, "--since", "1h", env=env)
    assert code == 0, err
    assert "replayed 2 deliveries" in out and "2 duplicate(s)" in out

    one = await run_json("replay", installation, "--delivery", sent[0], env=env)
    assert one["summary"]["deliveries"] == 1

    installations = await run_json("installations", env=env)
    assert [i["id"] for i in installations] == [installation]
    assert (await run_json("disable", installation, env=env))["state"] == "disabled"
    assert (await run_json("enable", installation, env=env))["state"] == "active"
    code, _, _ = await run("uninstall", installation, env=env, stdin=b"n\n")
    assert code == 6
    assert (await run_json("uninstall", installation, "--yes", env=env))["state"] == "uninstalled"


async def test_logs_prints_an_installed_extensions_lines_with_filters(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    env = suite.env(token, tmp_path / "config")
    assert (await run("init", "desk-notes", "--extension", env=env, cwd=tmp_path))[0] == 0
    project = tmp_path / "desk-notes"
    assert (await run("deploy", str(project), env=env))[0] == 0
    installed = await run_json(
        "install", "desk-notes", "--secret", "webhook_secret", env=env, stdin=b"notes-key\n"
    )
    result = await run_json(
        "trigger",
        "note.created",
        "--installation",
        installed["id"],
        "--dir",
        str(project),
        env=env,
        stdin=b"notes-key\n",
    )
    assert result["status"] == 202 and result["delivery"]["records"] == 1, result

    async def lines() -> list:
        code, out, _ = await run("logs", "desk-notes", "--since", "1h", "--json", env=env)
        return json.loads(out) if code == 0 else []

    [line] = await eventually(lines, timeout=30, interval=0.5)
    assert line["message"] == "note note_1 received" and line["installation_id"] == installed["id"]
    code, out, _ = await run("logs", "desk-notes", "--since", "1h", "--grep", "NOTE_1", env=env)
    assert code == 0 and "note note_1 received" in out
    code, out, _ = await run("logs", "desk-notes", "--level", "error", "--since", "1h", env=env)
    assert code == 4 and out == ""  # nothing at error level: exit "not found"
    code, _, _ = await run("logs", "desk-notes", "--level", "loud", env=env)
    assert code == 2


async def test_login_stores_the_token_privately_and_whoami_uses_it(suite: Suite, tmp_path: Path):
    token = await suite.workspace("login")
    env = suite.env(None, tmp_path / "config")
    code, _, err = await run("login", "--with-token", env=env, stdin=token.encode() + b"\n")
    assert code == 0, err
    stored = tmp_path / "config" / "backfill" / "config.json"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert json.loads(stored.read_text())["token"] == token
    me = await run_json("whoami", env=env)
    assert me["workspace"]["slug"].startswith("login-") and me["member"]["role"] == "admin"
    assert me["token_from"] == str(stored)
    # --token and BACKFILL_TOKEN win over the stored login.
    code, _, err = await run("whoami", "--token", "bft_not_a_token", env=env)
    assert code == 3 and "backfill login" in err
    code, _, _ = await run("whoami", env={**env, "BACKFILL_TOKEN": "bft_nope"})
    assert code == 3
    code, _, _ = await run("login", "--with-token", env=env, stdin=b"bft_wrong\n")
    assert code == 3 and json.loads(stored.read_text())["token"] == token  # never saved
    assert (await run("logout", env=env))[0] == 0 and not stored.exists()
