"""`POST /v1/installations/{id}/hooks/trigger`: a dev session's draft hook on a given record."""

from __future__ import annotations

from pathlib import Path

from contracts.ids import new_id
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation
from tests.ingress.hook_factories import hook_extension

# A refusal whose field is not a field name: the runtime passes it on as the hook said.
NUMBERED_FIELD = """
from sdk import ValidationError

def before_save(ctx, record, previous):
    raise ValidationError(7, "seven is not a field")
"""
CHANGES = "def before_save(ctx, record, previous):\n    return {'checked': True}\n"


async def draft_of(ingress: Ingress, tmp_path: Path, code: str) -> tuple[str, str, str]:
    """(workspace, installation, session) of an installation whose draft hook is `code`."""
    workspace, session = new_id("ws"), new_id("ses")
    version = await deploy(ingress.redis, directory=hook_extension(tmp_path, code))
    snapshot = installation(
        version,
        ingress.keyring,
        secret=None,
        workspace_id=workspace,
        draft=version,
        draft_member_id="mem_dev",
        draft_session_id=session,
    )
    await ingress.install(snapshot)
    return workspace, snapshot.installation_id, session


def trigger_path(installation_id: str) -> str:
    return f"/v1/installations/{installation_id}/hooks/trigger"


async def test_the_drafts_own_session_runs_its_hook_and_another_session_is_404(
    ingress: Ingress, tmp_path: Path
):
    workspace, installation_id, session = await draft_of(ingress, tmp_path, CHANGES)
    given = {"entity": "deal", "event": "before_save", "record": {"a": 1}}
    ran = await ingress.api(
        "POST", trigger_path(installation_id), workspace, json={**given, "session_id": session}
    )
    assert ran.status_code == 200, ran.text
    assert ran.json()["allowed"] is True and ran.json()["changes"] == {"checked": True}
    other = await ingress.api(
        "POST", trigger_path(installation_id), workspace, json={**given, "session_id": "ses_x"}
    )
    assert other.status_code == 404 and other.json()["error"]["field"] == "session_id"


async def test_an_answer_the_platform_cannot_read_is_422_naming_its_field(
    ingress: Ingress, tmp_path: Path
):
    workspace, installation_id, session = await draft_of(ingress, tmp_path, NUMBERED_FIELD)
    answer = await ingress.api(
        "POST",
        trigger_path(installation_id),
        workspace,
        json={"session_id": session, "entity": "deal", "event": "before_save", "record": {}},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_answer" and error["field"] == "errors[0].field"


async def test_a_malformed_trigger_is_400_naming_its_field(ingress: Ingress, tmp_path: Path):
    workspace, installation_id, session = await draft_of(ingress, tmp_path, CHANGES)
    answer = await ingress.api(
        "POST",
        trigger_path(installation_id),
        workspace,
        json={"session_id": session, "entity": "deal", "event": "before_save", "record": "x"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "record"
