"""Settings of the registry service, read from `REGISTRY_*` environment variables."""

from __future__ import annotations

from pathlib import Path

import msgspec

PREFIX = "REGISTRY_"
REPO_CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


class RegistrySettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8001
    # First-party catalog: every `<dir>/<key>/manifest.json` is packed and registered at start.
    connectors_dir: str = str(REPO_CONNECTORS)
    # The sync service runs connector code (test-connection); the registry never does.
    sync_url: str = "http://127.0.0.1:8003"
    sync_timeout_s: float = 15.0
    # Public base of per-installation webhook URLs (`<ingress_url>/hooks/<hook id>`).
    ingress_url: str = "http://127.0.0.1:8002"
    # Where OAuth providers send the admin back (`GET /v1/oauth/callback`).
    oauth_redirect_url: str = "http://127.0.0.1:8001/v1/oauth/callback"
    oauth_state_ttl_s: int = 600
    oauth_timeout_s: float = 15.0
    # How long the previous revision of a rotated secret stays valid (providers switch late).
    secret_grace_s: float = 24 * 3600.0
    # The deploy check (compile + import every entry point in a locked-down worker): its time
    # limit per bundle and how many workers it may keep (one per workspace being deployed to).
    deploy_check_time_limit_s: float = 20.0
    deploy_check_workers: int = 2
