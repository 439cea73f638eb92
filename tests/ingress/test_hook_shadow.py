"""Hooks of observation and draft versions run in shadow: Logs only, never the verdict."""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from tests.harness import eventually, read_topic
from tests.ingress.conftest import Ingress, ingress_settings, running_ingress
from tests.ingress.factories import deploy, installation
from tests.ingress.hook_factories import before_write, entity_write, hook_extension

PASS = "def before_save(ctx, record, previous):\n    return None\n"
REFUSE = """
from sdk import Log, ValidationError

def before_save(ctx, record, previous):
    Log.info("checking", write=ctx.write_id)
    raise ValidationError("amount", "Too small for the candidate")
"""


SLOW = """
import asyncio
from sdk import Log

async def before_save(ctx, record, previous):
    Log.info("shadow ran", write=ctx.write_id)
    await asyncio.sleep(1.5)
"""


async def shadowed(  # type: ignore[no-untyped-def]
    ingress: Ingress, tmp_path: Path, role: str, session: str = "s" * 32, code: str = REFUSE
):
    ws = new_id("ws")
    key = new_id("cand").replace("_", "-").lower()  # a bundle (and version id) of this test only
    active = await deploy(ingress.redis, directory=hook_extension(tmp_path / "a", PASS, key=key))
    candidate = await deploy(
        ingress.redis,
        directory=hook_extension(tmp_path / "b", code, key=key, timeout_ms=5000),
        label="2.0.0",
    )
    extra: dict[str, object] = {"observation": candidate}
    if role == "draft":
        extra = {"draft": candidate, "draft_member_id": "mem_dev", "draft_session_id": session}
    snapshot = installation(active, ingress.keyring, secret=None, workspace_id=ws, **extra)
    return ws, await ingress.install(snapshot), candidate


async def lines_until_refusal(ingress: Ingress, version_id: str) -> list[ExtensionLogLine]:
    """The version's log lines, read until its would-be refusal arrived."""

    def mine(seen: list[ExtensionLogLine]) -> list[ExtensionLogLine]:
        return [line for line in seen if line.version_id == version_id]

    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        EXTENSION_LOGS,
        lambda seen: any("would refuse" in line.message for line in mine(seen)),
    )
    return mine(seen)


async def test_an_observation_hook_is_logged_and_never_enforced(ingress: Ingress, tmp_path: Path):
    ws, snapshot, candidate = await shadowed(ingress, tmp_path, "observation")
    body = entity_write({"amount": 0})
    verdict = (await before_write(ingress.http, ingress.url, ws, body)).json()
    assert verdict["allowed"] is True and verdict["errors"] == [] and verdict["hooks_run"] == 1
    mine = await lines_until_refusal(ingress, candidate.version_id)
    refusal = next(line for line in mine if "would refuse" in line.message)
    assert refusal.mode == "observe" and refusal.script_type == "hook"
    assert (refusal.entity, refusal.event) == ("deal", "before_save")
    assert (
        refusal.attrs["field"] == "amount" and refusal.installation_id == snapshot.installation_id
    )
    assert any(
        line.message == "checking" and line.attrs["write"] == body["write_id"] for line in mine
    )


async def test_a_draft_hook_runs_only_for_its_own_session(ingress: Ingress, tmp_path: Path):
    session = "d" * 32
    ws, _, draft = await shadowed(ingress, tmp_path, "draft", session)
    others = entity_write({"amount": 0})  # no session, then another session: never the draft
    assert (await before_write(ingress.http, ingress.url, ws, others)).json()["allowed"] is True
    stranger = entity_write({"amount": 0}, session_id="x" * 32)
    assert (await before_write(ingress.http, ingress.url, ws, stranger)).json()["allowed"] is True
    own = entity_write({"amount": 0}, session_id=session)
    verdict = (await before_write(ingress.http, ingress.url, ws, own)).json()
    assert verdict["allowed"] is True  # a draft never decides a write
    mine = await lines_until_refusal(ingress, draft.version_id)
    assert {line.attrs.get("write") for line in mine if line.message == "checking"} == {
        own["write_id"]
    }
    assert {line.session_id for line in mine} == {session} and {line.mode for line in mine} == {
        "draft"
    }


async def test_shadow_runs_past_the_limit_are_skipped_and_logged_never_queued(
    ingress: Ingress, tmp_path: Path
):
    settings = ingress_settings(hooks_shadow_limit=1)
    async with running_ingress(
        ingress.infra, ingress.http, ingress.redis, ingress.producer, settings
    ) as limited:
        ws, _, candidate = await shadowed(limited, tmp_path, "observation", code=SLOW)
        burst = [entity_write({"amount": n}) for n in range(4)]
        verdicts = await asyncio.gather(
            *(before_write(limited.http, limited.url, ws, body) for body in burst)
        )
        assert [v.json()["allowed"] for v in verdicts] == [True] * 4

        def mine(seen: list[ExtensionLogLine]) -> list[ExtensionLogLine]:
            return [line for line in seen if line.version_id == candidate.version_id]

        skipped = await read_topic(
            limited.infra.bootstrap_servers,
            EXTENSION_LOGS,
            lambda seen: any("shadow_skipped" in line.message for line in mine(seen)),
        )
        markers: list[str] = []

        async def a_marker_ran() -> list[ExtensionLogLine]:
            # Once the running shadow run ends a new write's shadow runs: its line is the
            # marker up to which every "shadow ran" line is read (a write sent while the
            # slot is still taken is skipped, so markers are sent until one runs).
            marker = entity_write({"amount": 9})
            markers.append(marker["write_id"])
            assert (await before_write(limited.http, limited.url, ws, marker)).json()["allowed"]
            return await read_topic(
                limited.infra.bootstrap_servers,
                EXTENSION_LOGS,
                lambda seen: any(line.attrs.get("write") in markers for line in mine(seen)),
                timeout=3,
            )

        seen = await eventually(a_marker_ran, timeout=60, what="a shadow run after the burst")
    ran = [line.attrs["write"] for line in mine(seen) if line.message == "shadow ran"]
    burst_ids = {body["write_id"] for body in burst}
    assert len([w for w in ran if w in burst_ids]) == 1  # one of the burst ran, 3 skipped
    assert [w for w in ran if w not in burst_ids] == [markers[-1]]
    [skip] = [line for line in mine(skipped) if "shadow_skipped" in line.message]
    assert "1 shadow run(s) skipped: 1 already running" in skip.message
