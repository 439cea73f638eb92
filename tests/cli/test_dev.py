"""`backfill init` → `dev` → `trigger`: a draft only the developer's session reaches.

Real CLI processes against real registry, ingress and logs services on the session's broker
and Valkey: `dev` runs until it is sent SIGINT, like a terminal's Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from tests.cli.conftest import ROOT, Suite, clean_environment, run, run_json
from tests.harness import eventually


class DevProcess:
    """A running `backfill dev` and everything it printed so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first printed line containing `text`."""

        def found() -> str | None:
            if self.process.returncode is not None and not any(text in seen for seen in self.lines):
                raise AssertionError(f"dev exited {self.process.returncode}:\n{self.output}")
            return next((line for line in self.lines if text in line), None)

        try:
            return str(await eventually(found, timeout=timeout))
        except AssertionError:
            raise AssertionError(f"{text!r} never printed by dev:\n{self.output}") from None


@contextlib.asynccontextmanager
async def running_dev(project: Path, env: dict[str, str]) -> AsyncIterator[DevProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "dev",
        str(project),
        cwd=ROOT,
        env={**clean_environment(), "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    dev = DevProcess(process)
    try:
        yield dev
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
        await dev.reader


async def trigger(event: str, project: Path, env: dict[str, str]) -> dict:
    return await run_json("trigger", event, "--dev", "--dir", str(project), env=env)


async def test_init_dev_trigger_save_and_ctrl_c_on_a_fresh_connector(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    env = suite.env(token, tmp_path / "config")
    code, _out, err = await run("init", "acme-crm", "--connector", env=env, cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "acme-crm"
    handler = project / "src" / "api" / "webhooks" / "inbound.py"

    async with running_dev(project, env) as dev:
        await dev.wait_for("ready:")
        first = (await dev.wait_for("dev session")).split("draft ")[1].split(" ")[0]
        url = (await dev.wait_for("webhook URL (this session only)")).rsplit(" ", 1)[1]
        installation = (await dev.wait_for("installation ")).split()[-1]

        # The sample reaches the draft; its record is a would-write, its log line shows in dev.
        result = await trigger("item.created", project, env)
        assert result["status"] == 202, result
        assert result["answer"]["version_id"] == first
        assert [w["idempotency_key"] for w in result["would_write"]] == [
            "acme-crm:event:" + result["answer"]["response"]["eventId"] + ":0"
        ]
        line = await dev.wait_for("received item.created")
        assert "draft" in line

        # Only this session: another session id is refused, and the installation's real URL
        # history shows no delivery (the draft URL is not a provider delivery).
        other = url.rsplit("/", 1)[0] + "/" + "0" * 32
        assert (await suite.http.post(other, content=b"{}")).status_code == 404
        page = await suite.api(
            token, "GET", "ingress", f"/v1/installations/{installation}/deliveries"
        )
        assert page["deliveries"] == []

        # A save replaces the draft; the next trigger runs the new code.
        handler.write_text(handler.read_text().replace("received {", "v2 received {"))
        second = (await dev.wait_for("draft replaced")).split("draft replaced: ")[1].split(" ")[0]
        assert second != first

        async def on_second() -> bool:
            answer = await trigger("item.updated", project, env)
            return answer["answer"]["version_id"] == second

        await eventually(on_second, timeout=30, interval=0.5)
        await dev.wait_for("v2 received item.updated")

        # A broken manifest is reported; the previous draft keeps answering.
        manifest = project / "manifest.json"
        good = manifest.read_text()
        manifest.write_text(good.replace('"api.example.com"', '"https://api.example.com/x"'))
        await dev.wait_for("manifest error")
        assert (await trigger("item.created", project, env))["answer"]["version_id"] == second
        manifest.write_text(good)

        # Broken code is refused by the registry's deploy check: file, line and message are
        # printed and the previous draft keeps answering (it used to be replaced, then 500).
        working = handler.read_text()
        handler.write_text(working + "\ndef broken(:\n")
        refused = await dev.wait_for("deploy refused")
        assert "invalid_code" in refused
        lines = working.count("\n") + 2
        await dev.wait_for(f"src/api/webhooks/inbound.py:{lines}: SyntaxError")
        assert (await trigger("item.created", project, env))["answer"]["version_id"] == second
        handler.write_text(working)

        dev.process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(dev.process.wait(), 30) == 0
        await dev.wait_for("draft removed")

    state = await suite.api(token, "GET", "registry", f"/v1/installations/{installation}")
    assert state["draft"] is None
    history = await run_json("versions", "acme-crm", env=env)
    # The initial version keeps the manifest's label; drafts are labelled as drafts.
    # Only this scaffold's versions (0.1.0…): the suite's workspace may hold other tests' (and
    # the initial version may come from an earlier dev run of the same key).
    labels = [v["label"] for v in history if v["label"].startswith("0.1.0")]
    assert sum(label.startswith("0.1.0-dev.") for label in labels) >= 2

    async def gone() -> bool:
        return (await suite.http.post(url, content=b"{}")).status_code == 404

    await eventually(gone)
    code, _, err = await run("trigger", "item.created", "--dev", "--dir", str(project), env=env)
    assert code == 4 and "backfill dev" in err


async def test_dev_refuses_an_invalid_manifest_before_deploying(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    env = suite.env(token, tmp_path / "config")
    await run("init", "broken-one", "--extension", env=env, cwd=tmp_path)
    manifest = tmp_path / "broken-one" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["permissions"]["http"] = ["https://x.example.com/"]
    manifest.write_text(json.dumps(data))
    code, _, err = await run("dev", str(tmp_path / "broken-one"), env=env)
    assert code == 1 and "permissions.http[0]" in err
    versions = await suite.http.get(
        f"{suite.registry}/v1/extensions/broken-one/versions",
        headers={"authorization": f"Bearer {token}"},
    )
    assert versions.status_code == 404


async def test_a_fresh_extension_scaffold_runs_under_dev_and_its_local_tests_pass(
    suite: Suite, tmp_path: Path
):
    token = await suite.workspace()
    env = suite.env(token, tmp_path / "config")
    code, _, err = await run("init", "desk-notes", "--extension", env=env, cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "desk-notes"
    local = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(project / "tests"),
        cwd=project,
        env={**clean_environment(), "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    report, _ = await local.communicate()
    assert local.returncode == 0, report.decode()

    async with running_dev(project, env) as dev:
        await dev.wait_for("ready:")
        result = await trigger("note.created", project, env)
        assert result["status"] == 202, result
        assert [w["idempotency_key"] for w in result["would_write"]] == ["note:note_1"]
        await dev.wait_for("note note_1 received")
