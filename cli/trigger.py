"""`backfill trigger EVENT`: a realistic, correctly signed sample event, to the draft or an install.

`--dev` sends to the running `backfill dev` session of DIR's extension (its session URL and
the signing secret `dev` generated); `--installation I` sends to the installation's real
webhook URL, signed with a secret you type (no echo) or pipe on stdin, never from argv.
Prints the answer, then the records the event produced: the draft's would-writes (from its
log lines) or the delivery's outcome and record count (from the delivery history).
"""

from __future__ import annotations

import json as jsonlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.dev import load_session
from cli.errors import CliError, ExitCode
from cli.events import SampleEvent, available, build, fixtures_of, manifest_webhooks
from cli.installations import read_secret
from cli.logs import format_line
from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, err, out
from cli.trigger_hook import invocation_lines, read_record, trigger_hook
from sdk.define import manifest_from_directory

if TYPE_CHECKING:
    from cli.api import Api

app = typer.Typer()


def _key_of(directory: Path) -> str:
    """The extension key of DIR (read even while the rest of the manifest is being edited)."""
    try:
        raw = jsonlib.loads((directory / "manifest.json").read_text())
        if isinstance(raw, dict) and isinstance(raw.get("key"), str):
            return raw["key"]
    except (OSError, ValueError):
        pass
    try:
        return manifest_from_directory(directory).key
    except Exception as error:
        raise CliError(
            f"no extension manifest in {directory} ({error})",
            ExitCode.USAGE,
            "run in the extension's directory or pass --dir",
        ) from None


def dev_session(directory: Path, needs: str) -> dict[str, Any]:
    """What the running `backfill dev` of DIR stored (its session id and `needs`)."""
    key = _key_of(directory)
    session = load_session(key)
    if not session.get("session_id") or not session.get(needs):
        raise CliError(
            f"no `backfill dev` session of {key} is running",
            ExitCode.NOT_FOUND,
            f"start one: backfill dev {directory}",
        )
    return session


def _delivery_ids(client: Api, installation_id: str) -> set[str]:
    page = client.get("ingress", f"/v1/installations/{installation_id}/deliveries")
    return {d["delivery_id"] for d in page.get("deliveries", [])}


def _delivery(
    client: Api, installation_id: str, event: SampleEvent, before: set[str]
) -> dict[str, Any] | None:
    """This send's delivery history entry: by event id, else the first one new since the send."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = client.get("ingress", f"/v1/installations/{installation_id}/deliveries")
        new = [d for d in page.get("deliveries", []) if d["delivery_id"] not in before]
        for delivery in new:
            if delivery.get("event_id") == event.event_id:
                return dict(delivery)
        if new:  # the body carried its own id (or none): the oldest delivery since the send
            return dict(new[-1])
        time.sleep(0.3)
    return None


@app.command()
def trigger(
    event: Annotated[
        str | None, typer.Argument(help="a sample event, e.g. customer.created")
    ] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="send to this directory's `dev` session")
    ] = False,
    installation: Annotated[
        str | None, typer.Option(help="send to this installation's real webhook URL")
    ] = None,
    directory: Annotated[Path, typer.Option("--dir", help="the extension directory")] = Path("."),
    list_events: Annotated[bool, typer.Option("--list", help="list the sample events")] = False,
    entity: Annotated[str | None, typer.Option(help="hook: the entity type")] = None,
    hook_event: Annotated[
        str, typer.Option("--event", help="hook: before_save, before_delete, after_save…")
    ] = "before_save",
    record: Annotated[Path | None, typer.Option(help="hook: the record (a JSON file)")] = None,
    previous: Annotated[Path | None, typer.Option(help="hook: the stored record")] = None,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Send a signed sample EVENT and print the answer and the records it produced.

    `backfill trigger hook --entity deal --record deal.json [--event before_save]` runs the
    dev session's draft hook on the record instead, and prints its answer and log lines.
    """
    if event == "hook":
        if entity is None:
            raise typer.BadParameter("name the entity type of the hook", param_hint="--entity")
        key = _key_of(directory.resolve())
        allowed = trigger_hook(
            api(token, registry),
            key,
            entity=entity,
            event=hook_event,
            record=read_record(record, "--record"),
            previous=read_record(previous, "--previous"),
            json=json,
        )
        if not allowed:
            raise typer.Exit(int(ExitCode.FAILED))
        return
    if dev == (installation is not None):
        raise typer.BadParameter("choose one of --dev and --installation", param_hint="--dev")
    client = api(token, registry)
    directory = directory.resolve()
    if dev:
        key = _key_of(directory)
        session = dev_session(directory, "dev_url")
        url, secret, scheme = session["dev_url"], session.get("signing_secret"), session["scheme"]
        local: Path | None = directory
    else:
        assert installation is not None
        found = client.get("registry", f"/v1/installations/{installation}")
        key, url = found["extension_key"], found.get("webhook_url")
        local = directory if (directory / "manifest.json").exists() else None
        webhooks = manifest_webhooks(key, local)
        if not url or webhooks is None:
            raise CliError(f"{installation} ({key}) has no webhook endpoint", ExitCode.NOT_FOUND)
        scheme, secret = webhooks.get("auth", "public"), None
        stored = load_session(key)
        if stored.get("installation_id") == installation:  # `dev` made it and keeps its secret
            secret = stored.get("signing_secret")
    fixtures = fixtures_of(key, local)
    if list_events:
        out.print("\n".join(available(fixtures)))
        return
    if event is None:
        raise typer.BadParameter("name a sample event (--list shows them)", param_hint="EVENT")
    if secret is None and scheme != "public":
        secret = read_secret("webhook signing secret")
    sample = build(scheme, event, fixtures, secret)
    if not json:
        err.print(f"{sample.name} → {url}")
    before = set() if dev else _delivery_ids(client, installation or "")
    try:
        response = client.client.post(url, content=sample.body, headers=sample.headers)
    except Exception as error:
        raise CliError(
            f"ingress unreachable at {url} ({type(error).__name__})", ExitCode.UNREACHABLE
        ) from None
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    result: dict[str, Any] = {
        "event": sample.name,
        "status": response.status_code,
        "answer": answer,
    }
    if (
        dev
        and response.status_code < 500
        and isinstance(answer, dict)
        and "invocation_id" in answer
    ):
        result["log"] = invocation_lines(client, key, answer["invocation_id"], {"mode": "draft"})
        result["would_write"] = [
            line["attrs"] for line in result["log"] if line.get("kind") == "would_write"
        ]
    elif not dev and response.status_code < 300:
        result["delivery"] = _delivery(client, installation or "", sample, before)
    if json:
        emit_json(result)
    else:
        out.print(f"HTTP {response.status_code}")
        out.print(jsonlib.dumps(answer, indent=2) if not isinstance(answer, str) else answer)
        for line in result.get("log", []):
            out.print(format_line(line))
        delivery = result.get("delivery")
        if delivery:
            out.print(
                f"delivery {delivery['delivery_id']}: {delivery['outcome']},"
                f" {delivery['records']} new record(s), {delivery['duplicates']} duplicate(s)"
            )
    if response.status_code >= 400:
        raise typer.Exit(int(ExitCode.FAILED))
