"""Where the CLI finds its token and service URLs: flags, then environment, then `login`.

`backfill login` keeps the token and URLs in `<config dir>/backfill/config.json`
(`$XDG_CONFIG_HOME`, else `~/.config`), created with mode 0600 before anything is written,
so the token is never readable by other users, not even for an instant. A `--token` flag or
`BACKFILL_TOKEN` always wins over the stored login; the local `.backfill/admin-token` that
`backfill up` writes is the last resort.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import typer

SERVICE_DEFAULTS = {
    "registry": "http://127.0.0.1:8001",
    "ingress": "http://127.0.0.1:8002",
    "sync": "http://127.0.0.1:8003",
    "logs": "http://127.0.0.1:8004",
}
LOCAL_TOKEN_FILE = Path(".backfill") / "admin-token"


def config_file() -> Path:
    """The login file in the user's config directory."""
    return Path(typer.get_app_dir("backfill", force_posix=False)) / "config.json"


def stored() -> dict[str, str]:
    """What `backfill login` saved, or nothing."""
    path = config_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def save(values: dict[str, str]) -> Path:
    """Write the login file with mode 0600 (created that way; tightened if it existed)."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
    return path


def forget() -> bool:
    """Remove the login file; False when there was none."""
    try:
        config_file().unlink()
    except FileNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class Target:
    """The services and token one command talks to."""

    token: str | None
    token_source: str
    urls: dict[str, str]

    def url(self, service: str) -> str:
        """Base URL of `service` (registry, ingress, sync, logs)."""
        return self.urls[service]


def resolve(token: str | None = None, registry: str | None = None) -> Target:
    """Flags win, then `BACKFILL_*` environment, then the login file, then local defaults."""
    saved = stored()
    urls = {}
    for service, default in SERVICE_DEFAULTS.items():
        given = registry if service == "registry" else None
        env = os.environ.get(f"BACKFILL_{service.upper()}_URL")
        urls[service] = (given or env or saved.get(f"{service}_url") or default).rstrip("/")
    if token:
        return Target(token, "--token", urls)
    if os.environ.get("BACKFILL_TOKEN"):
        return Target(os.environ["BACKFILL_TOKEN"], "BACKFILL_TOKEN", urls)
    if saved.get("token"):
        return Target(saved["token"], str(config_file()), urls)
    if LOCAL_TOKEN_FILE.exists():
        return Target(LOCAL_TOKEN_FILE.read_text().strip(), str(LOCAL_TOKEN_FILE), urls)
    return Target(None, "", urls)
