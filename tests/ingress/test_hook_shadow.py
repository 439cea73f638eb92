"""Hooks of observation and draft versions run in shadow: Logs only, never the verdict."""

from __future__ import annotations

from pathlib import Path

from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from tests.harness import read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation
from tests.ingress.hook_factories import before_write, entity_write, hook_extension

PASS = "def before_save(ctx, record, previous):\n    return None\n"
REFUSE = """
from sdk import Log, ValidationError

def before_save(ctx, record, previous):
    Log.info("checking", write=ctx.write_id)
    raise ValidationError("amount", "Too small for the candidate")
"""


async def shadowed(ingress: Ingress, tmp_path: Path, role: str, session: str = "s" * 32):  # type: ignore[no-untyped-def]
    ws = new_id("ws")
    key = new_id("cand").replace("_", "-").lower()  # a bundle (and version id) of this test only
    active = await deploy(ingress.redis, directory=hook_extension(tmp_path / "a", PASS, key=key))
    candidate = await deploy(
        ingress.redis, directory=hook_extension(tmp_path / "b", REFUSE, key=key), label="2.0.0"
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
