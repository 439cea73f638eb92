"""The core's before-write call through HTTP: refusals, merged changes, order and failures."""

from __future__ import annotations

from pathlib import Path

import msgspec

from contracts.ids import new_id
from tests.ingress.conftest import Ingress
from tests.ingress.factories import changed, deploy, installation
from tests.ingress.hook_factories import before_write, entity_write, hook_extension

REFUSE_SMALL = """
from sdk import ValidationError

def before_save(ctx, record, previous):
    if record.get("amount", 0) <= 0:
        raise ValidationError("amount", "The amount must be positive")
"""


async def installed(ingress: Ingress, directory: Path, workspace_id: str, **fields: object):  # type: ignore[no-untyped-def]
    version = await deploy(ingress.redis, directory=directory)
    snapshot = installation(
        version, ingress.keyring, secret=None, workspace_id=workspace_id, **fields
    )
    return await ingress.install(snapshot)


async def test_a_refused_write_returns_the_hooks_message_and_field(
    ingress: Ingress, tmp_path: Path
):
    ws = new_id("ws")
    snapshot = await installed(ingress, hook_extension(tmp_path, REFUSE_SMALL), ws)
    response = await before_write(ingress.http, ingress.url, ws, entity_write({"amount": 0}))
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["allowed"] is False and verdict["record"] is None
    [error] = verdict["errors"]
    assert error["field"] == "amount" and error["message"] == "The amount must be positive"
    assert error["extension_key"] == snapshot.extension_key and error["hook"] == "guard"
    allowed = await before_write(ingress.http, ingress.url, ws, entity_write({"amount": 5}))
    assert allowed.json()["allowed"] is True and allowed.json()["hooks_run"] == 1


async def test_errors_of_two_extensions_are_both_returned(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    other = """
    from sdk import ValidationError, ValidationErrors

    def before_save(ctx, record, previous):
        raise ValidationErrors([ValidationError("name", "A deal needs a name"),
                                ValidationError(None, "Deals are frozen this week")])
    """
    first = await installed(ingress, hook_extension(tmp_path, REFUSE_SMALL), ws)
    second = await installed(ingress, hook_extension(tmp_path, other), ws)
    verdict = (
        await before_write(ingress.http, ingress.url, ws, entity_write({"amount": -1}))
    ).json()
    assert verdict["allowed"] is False
    got = {(e["extension_key"], e["field"], e["message"]) for e in verdict["errors"]}
    assert got == {
        (first.extension_key, "amount", "The amount must be positive"),
        (second.extension_key, "name", "A deal needs a name"),
        (second.extension_key, None, "Deals are frozen this week"),
    }


async def test_changes_are_merged_in_priority_order(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    stage = """
    def before_save(ctx, record, previous):
        assert ctx.actor.id == "mem_writer" and ctx.event == "before_save"
        return {"stage": "qualified", "name": record["name"].strip()}
    """
    score = """
    async def before_save(ctx, record, previous):
        return {"score": 10 if record["stage"] == "qualified" else 0}
    """
    await installed(ingress, hook_extension(tmp_path, score, priority=20), ws)
    await installed(ingress, hook_extension(tmp_path, stage, priority=10), ws)
    body = entity_write({"name": "  Acme  ", "amount": 3})
    verdict = (await before_write(ingress.http, ingress.url, ws, body)).json()
    assert verdict["allowed"] is True, verdict
    assert verdict["record"] == {"name": "Acme", "amount": 3, "stage": "qualified", "score": 10}
    assert verdict["changes"] == {"name": "Acme", "stage": "qualified", "score": 10}
    assert verdict["hooks_run"] == 2


async def test_changes_without_write_access_are_denied(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    code = "def before_save(ctx, record, previous):\n    return {'stage': 'won'}\n"
    closed = await installed(ingress, hook_extension(tmp_path, code, access="read"), ws)
    verdict = (await before_write(ingress.http, ingress.url, ws, entity_write({"a": 1}))).json()
    assert verdict["allowed"] is False
    assert verdict["errors"][0]["installation_id"] == closed.installation_id
    assert "write access" in verdict["errors"][0]["message"]


async def test_a_crashing_hook_obeys_its_on_error_setting(ingress: Ingress, tmp_path: Path):
    crash = "def before_save(ctx, record, previous):\n    raise KeyError('boom')\n"
    ws_closed, ws_open = new_id("ws"), new_id("ws")
    await installed(ingress, hook_extension(tmp_path, crash), ws_closed)
    opened = await installed(
        ingress, hook_extension(tmp_path, crash, on_error="fail_open"), ws_open
    )
    refused = (await before_write(ingress.http, ingress.url, ws_closed, entity_write({}))).json()
    assert refused["allowed"] is False and "KeyError" in refused["errors"][0]["message"]
    through = (
        await before_write(ingress.http, ingress.url, ws_open, entity_write({"x": 1}))
    ).json()
    assert through["allowed"] is True and through["record"] == {"x": 1}
    assert through["skipped"] == [
        {
            "extension_key": opened.extension_key,
            "installation_id": opened.installation_id,
            "hook": "guard",
            "reason": "error",
        }
    ]


async def test_a_looping_hook_times_out_and_the_runtime_keeps_serving(
    ingress: Ingress, tmp_path: Path
):
    loop = "def before_save(ctx, record, previous):\n    while True:\n        pass\n"
    ws_loop, ws_ok = new_id("ws"), new_id("ws")
    await installed(ingress, hook_extension(tmp_path, loop, timeout_ms=300), ws_loop)
    await installed(ingress, hook_extension(tmp_path, REFUSE_SMALL), ws_ok)
    refused = (await before_write(ingress.http, ingress.url, ws_loop, entity_write({}))).json()
    assert (
        refused["allowed"] is False and "no answer within 300 ms" in refused["errors"][0]["message"]
    )
    for _ in range(3):  # the looping worker is busy; the others still answer
        ok = await before_write(ingress.http, ingress.url, ws_ok, entity_write({"amount": 0}))
        assert ok.json()["errors"][0]["field"] == "amount"


async def test_a_disabled_installation_runs_no_hooks(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    snapshot = await installed(ingress, hook_extension(tmp_path, REFUSE_SMALL), ws)
    await ingress.install(changed(snapshot, state="disabled"))
    verdict = (
        await before_write(ingress.http, ingress.url, ws, entity_write({"amount": 0}))
    ).json()
    assert verdict == {**verdict, "allowed": True, "hooks_run": 0, "errors": []}


async def test_a_write_protected_type_is_refused_until_it_is_defined_again(
    ingress: Ingress, tmp_path: Path
):
    ws = new_id("ws")
    code = "def before_save(ctx, record, previous):\n    return None\n"
    protected = hook_extension(tmp_path, code, entity="deal")
    await installed(ingress, protected, ws, write_protected_entities=["ticket"])
    refused = await before_write(ingress.http, ingress.url, ws, entity_write({}), entity="ticket")
    assert refused.json()["allowed"] is False
    assert refused.json()["errors"][0]["hook"] == "write_protection"
    defines = hook_extension(
        tmp_path, code, entity="ticket", entities=[{"name": "ticket", "fields": []}]
    )
    await installed(ingress, defines, ws, write_protected_entities=["ticket"])
    again = await before_write(ingress.http, ingress.url, ws, entity_write({}), entity="ticket")
    assert again.json()["allowed"] is True


async def test_define_entity_fields_check_the_merged_record(ingress: Ingress, tmp_path: Path):
    ws = new_id("ws")
    fields = [{"name": "title", "required": True}, {"name": "seats", "type": "integer"}]
    bad = "def before_save(ctx, record, previous):\n    return {'seats': 'many'}\n"
    extension = hook_extension(
        tmp_path,
        bad,
        entity="ticket",
        entities=[{"name": "ticket", "fields": fields}],
        on_error="fail_open",
    )
    await installed(ingress, extension, ws)
    skipped = await before_write(
        ingress.http, ingress.url, ws, entity_write({"title": "t"}), "ticket"
    )
    assert skipped.json()["allowed"] is True and skipped.json()["record"] == {"title": "t"}
    assert skipped.json()["skipped"][0]["reason"] == "invalid_changes"
    missing = await before_write(
        ingress.http, ingress.url, ws, entity_write({"seats": 2}), "ticket"
    )
    [error] = missing.json()["errors"]
    assert error["hook"] == "define_entity" and error["field"] == "title"


async def test_the_call_needs_the_internal_token_and_a_record(ingress: Ingress):
    url = f"{ingress.url}/internal/workspaces/ws_x/entities/deal/before-write"
    body = entity_write({"a": 1})
    assert (await ingress.http.post(url, json=body)).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert (await ingress.http.post(url, json=body, headers=wrong)).status_code == 401
    missing = await before_write(ingress.http, ingress.url, "ws_x", entity_write(None))
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "record"
    extra = await before_write(ingress.http, ingress.url, "ws_x", {**body, "surprise": 1})
    assert extra.status_code == 400, msgspec.json.encode(extra.json())


async def test_before_delete_sees_the_stored_record_and_may_refuse(
    ingress: Ingress, tmp_path: Path
):
    ws = new_id("ws")
    code = """
    from sdk import ValidationError

    def before_delete(ctx, record, previous):
        assert record is None and ctx.operation == "delete"
        if previous["stage"] == "won":
            raise ValidationError("stage", "Won deals are kept for accounting")
    """
    await installed(ingress, hook_extension(tmp_path, code, events=("before_delete",)), ws)
    won = entity_write(None, previous={"stage": "won"}, operation="delete")
    refused = (await before_write(ingress.http, ingress.url, ws, won)).json()
    assert refused["allowed"] is False and refused["errors"][0]["field"] == "stage"
    lost = entity_write(None, previous={"stage": "lost"}, operation="delete")
    allowed = (await before_write(ingress.http, ingress.url, ws, lost)).json()
    assert allowed["allowed"] is True and allowed["hooks_run"] == 1
