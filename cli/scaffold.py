"""`backfill init NAME --connector|--extension`: a working project `backfill dev` runs at once.

A connector gets a Standard-Webhooks-signed endpoint with its event catalog, a polled
stream, a connection test, sample events in `fixtures/` (for `backfill trigger`) and a test
on the SDK's local helpers (`sdk.testing`). An extension gets an `api_key`-authenticated
webhook route that writes the entity it defines. Nothing is deployed: `backfill dev NAME`
does that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import CliError, ExitCode
from cli.output import out
from cli.scaffold_pages import ui_parts

app = typer.Typer()
KEY = re.compile(r"^[a-z][a-z0-9-]{1,62}$")

CONNECTOR_HANDLER = '''"""The webhook endpoint: the platform checked the signature first."""

from sdk import CatalogEntry, Canonical, Log, api, handle_event


def item(event, obj):
    return [Canonical("__ENTITY__", {"id": obj["id"], "name": obj.get("name")}, stream="items")]


# Which event types become which records; anything else is answered 202 "ignored".
CATALOG = {
    "item.created": CatalogEntry(transform=item, description="one __ENTITY__ record"),
    "item.updated": CatalogEntry(transform=item, description="one __ENTITY__ record"),
}


def receive(request):
    event = request.body
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return api.json({"error": "body must be an object with type and data"}, status=400)
    Log.info(f"received {event.get('type')}", item=event["data"].get("id"))
    return handle_event(
        provider="__KEY__",
        catalog=CATALOG,
        ignored=(),
        event_id=request.headers.get("webhook-id"),
        event_type=event.get("type"),
        event=event,
        obj=event["data"],
    )


POST = api(receive)
'''

CONNECTOR_STREAM = '''"""The `items` stream: pages of `GET https://api.example.com/v1/items?after=<cursor>`."""

from sdk import Page


async def fetch(ctx, cursor):
    params = {"limit": 100, **({"after": cursor} if cursor else {})}
    response = await ctx.http.get(
        "https://api.example.com/v1/items",
        params=params,
        headers={"authorization": f"Bearer {ctx.secrets.get('api_key') or ''}"},
    )
    response.raise_for_status()
    body = response.json()
    records = [{"id": item["id"], "name": item.get("name")} for item in body["data"]]
    return Page(
        records=records,
        next_cursor=records[-1]["id"] if records else cursor,
        has_more=bool(body.get("has_more")),
    )
'''

CONNECTOR_CONNECTION = '''"""Test connection: the API key must read the account."""

from sdk import ConnectionResult


async def test_connection(ctx):
    key = ctx.secrets.get("api_key")
    if not key:
        return ConnectionResult(ok=False, message="enter the API key")
    response = await ctx.http.get(
        "https://api.example.com/v1/account", headers={"authorization": f"Bearer {__KEY__}"}
    )
    if response.status_code != 200:
        return ConnectionResult(ok=False, message=f"the API answered {response.status_code}")
    return ConnectionResult(ok=True, message="connected")
'''

CONNECTOR_TEST = '''"""Local tests on the SDK's helpers (`sdk.testing`): `pytest tests`."""

import asyncio
import json
from pathlib import Path

from sdk.testing import LocalRun, load

HERE = Path(__file__).resolve().parents[1]


def test_item_created_becomes_one___ENTITY___record():
    handler = load(HERE / "src" / "api" / "webhooks" / "inbound.py")
    event = json.loads((HERE / "fixtures" / "item.created.json").read_text())
    run = LocalRun()
    answer = asyncio.run(run.call(handler.POST, event, headers={"webhook-id": "msg_1"}))
    assert answer.status == 202
    [record] = run.records
    assert record["canonical_type"] == "__ENTITY__"
    assert record["payload"]["id"] == event["data"]["id"]


def test_unknown_event_is_ignored():
    handler = load(HERE / "src" / "api" / "webhooks" / "inbound.py")
    run = LocalRun()
    answer = asyncio.run(
        run.call(handler.POST, {"type": "other", "data": {}}, headers={"webhook-id": "msg_2"})
    )
    assert answer.status == 202 and run.records == []
'''

EXTENSION_HANDLER = '''"""A webhook route (the platform checked its API key) that records a note."""

from sdk import Log, api, ingest


def receive(request):
    body = request.body or {}
    note_id = str(body.get("id") or "")
    if not note_id:
        return api.json({"error": "id is required"}, status=400)
    Log.info(f"note {note_id} received", length=len(str(body.get("text", ""))))
    note = {"id": note_id, "text": body.get("text", "")}
    ingest.canonical("__ENTITY__", note, idempotency_key=f"note:{note_id}")
    return api.json({"ok": True, "id": note_id}, status=202)


POST = api(receive)
'''

EXTENSION_TEST = '''"""Local tests on the SDK's helpers (`sdk.testing`): `pytest tests`."""

import asyncio
import json
from pathlib import Path

from sdk.testing import LocalRun, load

HERE = Path(__file__).resolve().parents[1]


def test_a_note_is_recorded():
    handler = load(HERE / "src" / "api" / "webhooks" / "inbound.py")
    note = json.loads((HERE / "fixtures" / "note.created.json").read_text())
    run = LocalRun()
    answer = asyncio.run(run.call(handler.POST, note))
    assert answer.status == 202
    assert [r["canonical_type"] for r in run.records] == ["__ENTITY__"]
'''


def _connector_manifest(key: str, entity: str) -> dict[str, object]:
    return {
        "key": key,
        "kind": "connector",
        "name": key.replace("-", " ").title(),
        "version": "0.1.0",
        "description": f"{key}: items by signed webhook in real time and a polled stream.",
        "permissions": {
            "entities": [{"type": entity, "access": "write"}],
            "http": ["api.example.com"],
            "secrets": ["api_key", "webhook_secret"],
        },
        "connection": {
            "settingsSchema": {
                "properties": {
                    "api_key": {"type": "string", "title": "API key", "secret": True},
                    "webhook_secret": {
                        "type": "string",
                        "title": "Webhook signing secret",
                        "secret": True,
                    },
                },
                "required": [],
            },
            "testConnection": True,
        },
        "webhooks": {
            "endpoint": "/webhooks/inbound",
            "auth": "standard_webhooks",
            "secret": "webhook_secret",
        },
        "streams": [
            {
                "name": "items",
                "canonicalType": entity,
                "entry": "streams/items.py",
                "everySeconds": 300,
            }
        ],
    }


def _extension_manifest(key: str, entity: str) -> dict[str, object]:
    return {
        "key": key,
        "kind": "extension",
        "name": key.replace("-", " ").title(),
        "version": "0.1.0",
        "description": f"{key}: records notes posted to its webhook.",
        "permissions": {"entities": [], "http": [], "secrets": ["webhook_secret"]},
        "entities": [{"name": entity, "fields": [{"name": "text", "type": "string"}]}],
        "webhooks": {
            "endpoint": "/webhooks/inbound",
            "auth": "api_key",
            "secret": "webhook_secret",
        },
    }


def _sample(kind: str) -> dict[str, dict[str, object]]:
    if kind == "connector":
        item = {"id": "itm_1001", "name": "First item"}
        return {
            "item.created": {
                "type": "item.created",
                "timestamp": "2026-01-05T10:00:00Z",
                "data": item,
            },
            "item.updated": {
                "type": "item.updated",
                "timestamp": "2026-01-05T11:00:00Z",
                "data": {**item, "name": "Renamed item"},
            },
        }
    return {"note.created": {"id": "note_1", "text": "Call back on Monday"}}


def _fill(template: str, key: str, entity: str) -> str:
    return template.replace("__KEY__", key).replace("__ENTITY__", entity)


def scaffold(directory: Path, key: str, kind: str) -> list[Path]:
    """Write the project; refuses to touch a non-empty directory."""
    if directory.exists() and any(directory.iterdir()):
        raise CliError(f"{directory} exists and is not empty", ExitCode.FAILED, "pick another NAME")
    entity = key.replace("-", "_") + ("_item" if kind == "connector" else "_note")
    files: dict[str, str] = {}
    if kind == "connector":
        manifest = _connector_manifest(key, entity)
        files["src/api/webhooks/inbound.py"] = _fill(CONNECTOR_HANDLER, key, entity)
        files["src/streams/items.py"] = CONNECTOR_STREAM
        files["src/connection.py"] = CONNECTOR_CONNECTION
        files[f"tests/test_{key.replace('-', '_')}.py"] = _fill(CONNECTOR_TEST, key, entity)
    else:
        ui_files, ui_manifest = ui_parts(key)
        manifest = {**_extension_manifest(key, entity), **ui_manifest}
        files.update(ui_files)
        files["src/api/webhooks/inbound.py"] = _fill(EXTENSION_HANDLER, key, entity)
        files[f"tests/test_{key.replace('-', '_')}.py"] = _fill(EXTENSION_TEST, key, entity)
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    for name, sample in _sample(kind).items():
        files[f"fixtures/{name}.json"] = json.dumps(sample, indent=2) + "\n"
    written = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="the key and directory, e.g. acme-crm")],
    connector: Annotated[
        bool, typer.Option("--connector", help="a connector (webhooks, streams)")
    ] = False,
    extension: Annotated[
        bool, typer.Option("--extension", help="an extension (routes, entities)")
    ] = False,
) -> None:
    """Scaffold a working connector or extension in ./NAME that `backfill dev NAME` runs at once."""
    if connector == extension:
        raise typer.BadParameter(
            "choose one of --connector and --extension", param_hint="--connector"
        )
    key = Path(name).name
    if not KEY.match(key):
        raise typer.BadParameter("lowercase letters, digits and dashes, starting with a letter")
    kind = "connector" if connector else "extension"
    written = scaffold(Path(name), key, kind)
    out.print(f"created {kind} {key} in {name}/ ({len(written)} files)")
    event = "item.created" if connector else "note.created"
    out.print("next:")
    out.print(f"  backfill dev {name}                          # a draft only you reach, live logs")
    out.print(f"  backfill trigger {event} --dev --dir {name}  # a signed sample event")
    out.print(f"  python -m pytest {name}/tests               # the local tests")
