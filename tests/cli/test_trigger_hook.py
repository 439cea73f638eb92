"""`backfill trigger hook`: the dev session's draft hook on a record file, answer and lines."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.conftest import ROOT, Suite, run, run_json
from tests.cli.test_dev import running_dev

EXAMPLE = ROOT / "examples" / "deals-guard"


async def test_trigger_hook_shows_the_drafts_refusal_changes_and_log_lines(
    suite: Suite, tmp_path: Path
):
    token = await suite.workspace()
    env = suite.env(token, tmp_path / "config")
    project = tmp_path / "deals-guard"
    shutil.copytree(EXAMPLE, project)
    hook = ["trigger", "hook", "--entity", "deal", "--dir", str(project)]
    async with running_dev(project, env) as dev:
        await dev.wait_for("ready:")
        draft = (await dev.wait_for("dev session")).split("draft ")[1].split(" ")[0]
        bad = project / "samples" / "bad-deal.json"
        code, out, err = await run(*hook, "--record", str(bad), env=env)
        assert code != 0, out + err
        assert "amount: The amount must be a number" in out and "discount:" in out
        good = await run_json(*hook, "--record", str(project / "samples" / "deal.json"), env=env)
        answer = good["answer"]
        assert answer["allowed"] is True and answer["version_id"] == draft
        assert answer["changes"] == {"currency": "EUR"}
        assert any(line["message"] == "normalised the deal" for line in good["log"])
        assert {line["mode"] for line in good["log"]} == {"draft"}
        assert {(line["entity"], line["event"]) for line in good["log"]} == {
            ("deal", "before_save")
        }
        # The Logs API's hook filters: the same lines are not found under another event.
        other = await suite.api(
            token,
            "GET",
            "logs",
            "/v1/extensions/deals-guard/logs",
            params={"script_type": "hook", "entity": "deal", "event": "after_save", "since": 0},
        )
        items = other["items"]
        mine = {line["invocation_id"] for line in good["log"]}
        assert not [line for line in items if line["invocation_id"] in mine]
    code, _, err = await run(*hook, "--record", str(bad), env=env)
    assert code == 4 and "backfill dev" in err  # the session ended: nothing to run
