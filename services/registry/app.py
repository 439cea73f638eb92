"""The registry's composition root: the only place that reads settings and builds clients."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from contracts.topics import AUDIT_EVENTS, INSTALLATION_SNAPSHOTS
from services.base.auth import resolve_token
from services.base.hosts import HostCheck
from services.base.http import build_http_app, run_service
from services.base.infrastructure import Infrastructure
from services.base.keys import create_redis
from services.base.runtime import build_runtime
from services.base.settings import InfraSettings, load, load_keyring
from services.registry.outbox import OutboxRelay
from services.registry.routes import ROUTES
from services.registry.service import WorkspaceService
from services.registry.service.api_keys import ApiKeyService
from services.registry.service.code_check import CodeCheck
from services.registry.service.connections import ConnectionService, CredentialCheck
from services.registry.service.installation_versions import InstallationVersionService
from services.registry.service.installations import InstallationService
from services.registry.service.maintenance import Maintenance
from services.registry.service.oauth import OAuthService
from services.registry.service.secrets import SecretService
from services.registry.service.vault import SecretVault
from services.registry.service.versions import VersionService
from services.registry.settings import PREFIX, RegistrySettings
from services.registry.store import RegistryStore
from services.registry.sync_client import SyncClient


def create_app(settings: RegistrySettings, infra_settings: InfraSettings) -> Litestar:
    """Wire store, outbox relay and services.

    Once Kafka answers: register the first-party catalog, queue every snapshot again (a broker
    that lost its data heals), then start the relay (which also publishes whatever a crash
    left committed but unpublished).
    """
    keyring = load_keyring(infra_settings)
    infra = Infrastructure.create(infra_settings, "registry")
    infra.publisher(INSTALLATION_SNAPSHOTS)
    infra.publisher(AUDIT_EVENTS)
    store = RegistryStore(infra.redis)
    relay = OutboxRelay(infra.redis, lambda: infra.producer)
    vault = SecretVault(keyring, settings.secret_grace_s)
    sync = SyncClient(settings.sync_url, infra_settings.internal_token, settings.sync_timeout_s)
    check = CredentialCheck(sync, vault)
    # Deploys are compiled and imported in locked-down workers first (broken code never ships).
    checker = build_runtime(
        infra,
        keyring,
        time_limit_s=settings.deploy_check_time_limit_s,
        workers=settings.deploy_check_workers,
        start_early=False,
    )
    hosts = HostCheck(allow_local_oauth=settings.oauth_allow_local_providers)
    versions = VersionService(store, relay, CodeCheck(checker), hosts)
    services: dict[str, Any] = {
        "workspaces": WorkspaceService(store, relay),
        "versions": versions,
        "installations": InstallationService(
            store, relay, versions, vault, check, settings.ingress_url
        ),
        "installation_versions": InstallationVersionService(
            store, relay, versions, settings.ingress_url
        ),
        "secrets": SecretService(store, relay, vault, check),
        "api_keys": ApiKeyService(store, relay),
        "connections": ConnectionService(store, relay, vault, sync, settings.ingress_url),
        "oauth": OAuthService(
            store,
            relay,
            vault,
            settings.oauth_redirect_url,
            settings.oauth_state_ttl_s,
            settings.oauth_timeout_s,
            hosts,
        ),
    }
    maintenance = Maintenance(store, relay)

    async def start_publishing() -> None:
        await versions.register_first_party(Path(settings.connectors_dir))
        await maintenance.republish_all()
        relay.start()

    infra.after_connect.append(start_publishing)
    return build_http_app(
        service="registry",
        infra=infra,
        route_handlers=ROUTES,
        dependencies={
            name: Provide(_constant(service), sync_to_thread=False)
            for name, service in services.items()
        },
        on_shutdown=[relay.stop, checker.close],
    )


def _constant(value: Any) -> Callable[[], Any]:
    """A Litestar provider of one object built here (no globals)."""

    def provide() -> Any:
        return value

    return provide


async def bootstrap(slug: str, email: str, known_token: str | None) -> str:
    """Create workspace `slug` with its first admin unless it exists; return a valid admin token.

    Idempotent for `backfill up`: a known token that still resolves to the workspace is reused.
    """
    from services.base.auth import Principal
    from services.registry.schemas import TokenCreate

    redis = create_redis(load(InfraSettings).redis_url)
    try:
        store = RegistryStore(redis)
        existing = await store.workspace_id_by_slug(slug)
        if existing and known_token:
            principal = await resolve_token(redis, known_token)
            if principal and principal.workspace_id == existing:
                return known_token
        service = WorkspaceService(store, OutboxRelay(redis, producer=_no_producer))
        if not existing:
            return (await service.bootstrap_workspace(slug, email))[2].token
        admin = next(m for m in await store.members(existing) if m.role == "admin")
        caller = Principal(workspace_id=existing, member_id=admin.id, role="admin", token_id="")
        return (await service.issue_token(caller, TokenCreate(name="bootstrap"))).token
    finally:
        await redis.aclose()


def bootstrap_command(slug: str, email: str, token_file: Path | None) -> str:
    """Run `bootstrap`, reading and (re)writing the token file (mode 0600)."""
    known = token_file.read_text().strip() if token_file and token_file.exists() else None
    token = asyncio.run(bootstrap(slug, email, known))
    if token_file and token != known:
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
    return token


async def rewrap() -> int:
    """Re-wrap every sealed secret with the keyring's newest key; the running registry relays."""
    infra_settings = load(InfraSettings)
    vault = SecretVault(load_keyring(infra_settings), 0)
    redis = create_redis(infra_settings.redis_url)
    try:
        store = RegistryStore(redis)
        return await Maintenance(store, OutboxRelay(redis, producer=_no_producer)).rewrap_all(vault)
    finally:
        await redis.aclose()


def _no_producer() -> Any:
    raise RuntimeError(
        "the bootstrap command only writes the outbox; the running registry relays it"
    )


def main() -> None:
    """`python -m services.registry [serve | bootstrap SLUG --email E --token-file F | rewrap]`."""
    parser = argparse.ArgumentParser(prog="python -m services.registry")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the registry HTTP service (default)")
    boot = commands.add_parser("bootstrap", help="create a workspace with its first admin")
    boot.add_argument("slug")
    boot.add_argument("--email", default="admin@example.com")
    boot.add_argument("--token-file", type=Path)
    commands.add_parser("rewrap", help="re-wrap every sealed secret with the newest keyring key")
    args = parser.parse_args()
    if args.command == "rewrap":
        print(f"re-wrapped the secrets of {asyncio.run(rewrap())} installations")
        sys.exit(0)
    if args.command == "bootstrap":
        print(bootstrap_command(args.slug, args.email, args.token_file))
        sys.exit(0)
    run_service("registry", RegistrySettings, PREFIX, create_app)
