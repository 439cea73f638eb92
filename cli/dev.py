"""`backfill dev [DIR]`: a draft of the extension in DIR that only this session reaches.

The developer's session, per kind of invocation:
- **webhook deliveries:** `dev` prints a session URL, `<ingress>/hooks/<hook_id>/dev/<session>`.
  Only deliveries to that URL run the draft (`backfill trigger EVENT --dev` sends there);
  the provider's real traffic to `/hooks/<hook_id>` keeps running the active version, and
  a newer `dev` session makes an older session's URL answer 404.
- **stream runs and jobs:** the scheduler never runs a draft; a draft's stream runs only
  when this session asks for one (not offered yet: see the README).
- **routes and UI:** served by the active version; drafts have no route traffic of their own.

Draft writes are never applied: they are logged as would-writes. `dev` validates the manifest
first, deploys the draft for its session id, then watches DIR: every save (debounced) is
re-validated and, if valid, replaces the draft; a manifest error is printed and the previous
draft keeps running. The draft's log lines (this session's only) stream to the terminal.
Ctrl-C (or SIGTERM) removes the draft. The first `dev` of a key never deployed in the
workspace deploys it once as its initial version and installs it (connection `dev`) so the
draft has an installation to run on; that installation's webhook signing secret is generated
here and kept in the config dir (mode 0600) for `trigger --dev`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer
from rich.markup import escape

from cli import config
from cli.errors import CliError, ExitCode
from cli.events import new_secret
from cli.logs import format_line, matcher, tail
from cli.output import RegistryOption, TokenOption, api, err, out
from cli.routes import print_dev_urls
from contracts.manifest import ManifestError
from sdk.bundle import BundleError, digest_of, pack
from sdk.define import manifest_from_directory

if TYPE_CHECKING:
    from cli.api import Api

app = typer.Typer()
KEEPS = " (the previous draft keeps running)"


def session_file(key: str) -> Path:
    """Where `dev` keeps KEY's dev installation, signing secret and current session."""
    return config.config_file().parent / "dev" / f"{key}.json"


def load_session(key: str) -> dict[str, Any]:
    """What `dev` stored for KEY (empty if never run)."""
    try:
        data = json.loads(session_file(key).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_session(key: str, data: dict[str, Any]) -> None:
    """Write with mode 0600: it holds a signing secret."""
    path = session_file(key)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)


def _pack(directory: Path, session_id: str | None = None) -> tuple[bytes, Any]:
    """The bundle; a draft's is labelled `<version>-dev.<session>` so history tells them apart."""
    try:
        manifest = manifest_from_directory(directory)
        if session_id is not None:
            label = f"{manifest.version}-dev.{session_id[:8]}"
            manifest = msgspec.structs.replace(manifest, version=label)
        return pack(directory, manifest)
    except ManifestError as error:
        raise CliError(f"invalid manifest, field {error.field}: {error.message}") from None
    except (BundleError, OSError) as error:
        raise CliError(str(error)) from None


def _upload(client: Api, key: str, archive: bytes, params: dict[str, str]) -> dict[str, Any]:
    response = client.request(
        "registry",
        "POST",
        f"/v1/extensions/{key}/versions",
        params=params,
        content=archive,
        headers={"content-type": "application/gzip"},
        timeout=60,
    )
    return dict(response.json())


def _dev_installation(client: Api, manifest: Any, archive: bytes) -> dict[str, Any]:
    """The installation the draft runs on: the one `dev` made before, else any, else a new one."""
    key = manifest.key
    stored = load_session(key)
    mine = [i for i in client.get("registry", "/v1/installations/") if i["extension_key"] == key]
    for installation in mine:
        if installation["id"] == stored.get("installation_id"):
            return {**installation, "signing_secret": stored.get("signing_secret")}
    if mine:
        return {**mine[0], "signing_secret": None}
    history = client.request("registry", "GET", f"/v1/extensions/{key}/versions", allow=(404,))
    if history.status_code == 404:
        first = _upload(client, key, archive, {"mode": "active"})
        err.print(f"first deploy of {key}: {first['version_id']} is its initial version")
    connection = "dev" if manifest.kind == "connector" else "default"
    installation = client.post(
        "registry",
        "/v1/installations/",
        json={"extension_key": key, "connection_name": connection, "settings": {}},
    )
    err.print(f"installed {key} for development: {installation['id']}")
    signing_secret = None
    webhooks = manifest.webhooks
    if webhooks is not None and webhooks.auth != "public":
        signing_secret = new_secret(webhooks.auth)
        client.request(
            "registry",
            "PUT",
            f"/v1/installations/{installation['id']}/secrets/{webhooks.secret}",
            json={"value": signing_secret},
        )
    save_session(key, {"installation_id": installation["id"], "signing_secret": signing_secret})
    return {**installation, "signing_secret": signing_secret}


def _wait_for_draft(client: Api, dev_url: str, public: bool, timeout: float = 30) -> None:
    """Until ingress serves this session's draft: unsigned probes get 401 once it does."""
    if public:
        time.sleep(1.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = client.request("ingress", "POST", dev_url, content=b"{}", allow=(401, 404))
        if probe.status_code == 401:
            return
        time.sleep(0.2)
    err.print("[yellow]ingress has not seen the draft yet; deliveries may 404 for a moment[/]")


@app.command()
def dev(
    directory: Annotated[Path, typer.Argument(help="the extension directory")] = Path("."),
    token: TokenOption = None,
    registry: RegistryOption = None,
    debounce_ms: Annotated[int, typer.Option(help="quiet time before a save redeploys")] = 300,
) -> None:
    """Run DIR as a draft for this session: redeploy on save, stream its logs, Ctrl-C removes it."""
    import watchfiles  # only `dev` watches files: keep it off every other command's start

    directory = directory.resolve()
    archive, manifest = _pack(directory)  # a broken manifest stops here, before any change
    client = api(token, registry)
    key = manifest.key
    installation = _dev_installation(client, manifest, archive)
    session_id = secrets.token_hex(16)
    archive, manifest = _pack(directory, session_id)
    deployed = _upload(client, key, archive, {"mode": "draft", "session": session_id})
    digest = digest_of(archive)
    webhook_url = installation.get("webhook_url") or ""
    hook_id = webhook_url.rstrip("/").rsplit("/", 1)[-1] if webhook_url else None
    dev_path = f"/hooks/{hook_id}/dev/{session_id}" if hook_id else None
    dev_url = f"{client.target.url('ingress')}{dev_path}" if dev_path else None
    stored = load_session(key)
    save_session(
        key,
        {
            **stored,
            "installation_id": installation["id"],
            "signing_secret": installation.get("signing_secret"),
            "session_id": session_id,
            "dev_url": dev_url,
            "scheme": manifest.webhooks.auth if manifest.webhooks else None,
            "directory": str(directory),
            "pid": os.getpid(),
        },
    )
    out.print(
        f"dev session {session_id}: draft {deployed['version_id']} ({manifest.version}) of {key}"
    )
    out.print(f"installation {installation['id']}")
    print_dev_urls(client.target.url("ingress"), installation["id"], session_id, archive, manifest)
    if dev_path and manifest.webhooks is not None:
        _wait_for_draft(client, dev_path, manifest.webhooks.auth == "public")
        out.print(f"webhook URL (this session only): {dev_url}")
        out.print(
            f"send a signed sample: backfill trigger <event> --dev --dir {escape(str(directory))}"
        )
    stop = threading.Event()

    def on_signal(signum: int, _: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    keep = matcher(None, None, None, None, session_id)

    def stream_logs() -> None:
        params = {"mode": "draft", "session_id": session_id}
        try:
            for line in tail(client, key, params, time.time() - 5, stop.is_set):
                if keep(line):
                    out.print(format_line(line))
        except CliError as error:
            err.print(f"[yellow]log stream ended: {escape(error.message)}[/yellow]")

    threading.Thread(target=stream_logs, daemon=True, name="dev-logs").start()
    out.print(f"ready: watching {escape(str(directory))} (Ctrl-C removes the draft)")
    try:
        for _changes in watchfiles.watch(
            directory,
            debounce=debounce_ms,
            stop_event=stop,
            rust_timeout=500,
            raise_interrupt=False,
        ):
            try:
                archive, manifest = _pack(directory, session_id)
            except CliError as error:
                out.print(f"[red]manifest error:[/red] {escape(error.message)}{KEEPS}")
                continue
            if manifest.key != key:
                out.print(
                    f"[red]manifest error:[/red] key changed to {manifest.key!r}; restart `dev`"
                )
                continue
            if digest_of(archive) == digest:
                continue
            try:
                deployed = _upload(client, key, archive, {"mode": "draft", "session": session_id})
            except CliError as error:
                out.print(f"[red]deploy refused:[/red] {escape(error.message)}{KEEPS}")
                continue
            digest = digest_of(archive)
            out.print(f"draft replaced: {deployed['version_id']} ({manifest.version})")
    finally:
        stop.set()
        try:
            client.request(
                "registry", "DELETE", f"/v1/extensions/{key}/draft", params={"session": session_id}
            )
            out.print(f"draft removed ({session_id})")
        except CliError as error:
            err.print(f"backfill: could not remove the draft: {escape(error.message)}")
            raise typer.Exit(int(ExitCode.UNREACHABLE)) from None
        save_session(
            key,
            {
                k: v
                for k, v in load_session(key).items()
                if k in ("installation_id", "signing_secret")
            },
        )
