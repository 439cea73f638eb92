"""The suite as real processes (`python -m services.<name>`) with seeded workspaces.

Robustness tests drive services the way a provider or an admin does: over HTTP to separate
processes, so that a crash, a hang or a leaked file descriptor is the service's own. Every
process is started on a free port against the test session's broker and Valkey (or a
private pair) and ended by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cli.embedded import free_port
from tests.harness import Infra

# The services whose OpenAPI documents the sweeps read (the console serves HTML only).
API_SERVICES = ("registry", "ingress", "logs", "sync")
FIXTURE_BUNDLE = Path(__file__).parents[1] / "ingress" / "fixtures" / "stripe_like"
WEBHOOK_SECRET = "whsec_robustness_secret"
# The seeded connector's one stream: it reads nothing, so a run (scheduled or fuzzed) is cheap.
STREAM = "customers"
STREAM_CODE = """from sdk import Page


async def fetch(ctx, cursor):
    return Page(records=[], next_cursor=cursor, has_more=False)
"""
ALERT_URL = "https://127.0.0.1:9/alerts"  # the discard port: nothing listens, refused at once


@dataclass
class Service:
    """One running service process."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_file: Path
    port: int
    env: dict[str, str]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to this service's process (by pid)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:] if self.log_file.exists() else ""


def start_service(
    name: str, infra: Infra, home: Path, port: int | None = None, **env: str
) -> Service:
    """Start `python -m services.<name>` on a free port; not yet ready (see `wait_until_ready`)."""
    port = port or free_port()
    environment = {
        **infra.env(),
        f"{name.upper()}_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "LOGS_DATA_DIR": str(home / "logs-store"),  # never the repository's .backfill/
        **env,
    }
    log_file = home / f"{name}.log"
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Service(name, f"http://127.0.0.1:{port}", process, log_file, port, environment)


def restart(service: Service) -> Service:
    """The same service started again on the same port with the same environment."""
    with service.log_file.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{service.name}"],
            env=service.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Service(service.name, service.url, process, service.log_file, service.port, service.env)


def wait_until_ready(service: Service, timeout: float = 90) -> None:
    """Poll `/readyz` until 200; fail with the log tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise AssertionError(f"{service.name} exited:\n{service.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{service.url}/readyz").status_code == 200:
                    return
            time.sleep(0.1)
    raise AssertionError(f"{service.name} not ready after {timeout}s:\n{service.log_tail()}")


def stop(service: Service, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL after `timeout`."""
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@dataclass
class Workspace:
    """A seeded workspace: tokens of each kind and the ids of resources it owns."""

    id: str
    admin: str
    member: str
    revoked: str
    ids: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"authorization": f"Bearer {getattr(self, role)}"}


@dataclass
class Suite:
    """Running services by name, and the workspaces seeded in them."""

    infra: Infra
    home: Path
    services: dict[str, Service]
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    fixtures: dict[str, Any] = field(default_factory=dict)  # e.g. an upstream provider

    def url(self, name: str) -> str:
        return self.services[name].url


@contextlib.contextmanager
def running_suite(
    infra: Infra, names: tuple[str, ...] = API_SERVICES, **env: str
) -> Iterator[Suite]:
    """Start the named services (wired to each other, plus `env`), wait until all are ready,
    stop them."""
    home = Path(tempfile.mkdtemp(prefix="backfill-robust-"))
    ports = {name: free_port() for name in ("registry", "ingress", "sync", "logs", "console")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    wiring = {
        "REGISTRY_SYNC_URL": urls["sync"],
        "REGISTRY_INGRESS_URL": urls["ingress"],
        **{f"CONSOLE_{n.upper()}_URL": u for n, u in urls.items()},
        # the seeded alert destination is a closed local port (ALERT_URL): no DNS, no network
        "LOGS_ALERT_ALLOW_PRIVATE_TARGETS": "true",
        "REGISTRY_OAUTH_ALLOW_LOCAL_PROVIDERS": "true",  # test OAuth providers on 127.0.0.1
        "SYNC_OAUTH_ALLOW_LOCAL_PROVIDERS": "true",  # test OAuth providers on 127.0.0.1
        **env,
    }
    services = {name: start_service(name, infra, home, ports[name], **wiring) for name in names}
    try:
        for service in services.values():
            wait_until_ready(service)
        yield Suite(infra, home, services)
    finally:
        for service in services.values():
            service.kill(signal.SIGTERM)
        for service in services.values():
            stop(service)


def seed_workspace(suite: Suite, slug: str) -> Workspace:
    """A workspace with an admin, a member, a revoked token, a private connector installed
    with a webhook secret, another secret, and one delivery in its history; when the suite
    runs them, an alert destination and rule (logs), and the connector's stream with one
    cursor history entry (sync)."""
    from sdk.bundle import pack  # the CLI's packer: the archive `backfill deploy` uploads

    result = subprocess.run(
        [sys.executable, "-m", "services.registry", "bootstrap", f"{slug}-{os.urandom(3).hex()}"],
        env={**suite.infra.env(), "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    admin = result.stdout.strip().splitlines()[-1]
    registry = suite.url("registry")
    headers = {"authorization": f"Bearer {admin}"}
    with httpx.Client(timeout=20, headers=headers) as client:

        def ok(response: httpx.Response) -> Any:
            assert response.is_success, (response.request.url, response.status_code, response.text)
            return response.json() if response.content else None

        workspace = ok(client.get(f"{registry}/v1/workspace"))
        member = ok(client.post(f"{registry}/v1/members", json={"email": "kim@example.com"}))
        member_token = ok(client.post(f"{registry}/v1/tokens", json={"member_id": member["id"]}))
        doomed = ok(client.post(f"{registry}/v1/tokens", json={"name": "doomed"}))
        ok(client.delete(f"{registry}/v1/tokens/{doomed['id']}"))
        key = f"recorder-{slug}"
        manifest = json.loads((FIXTURE_BUNDLE / "manifest.json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / key
            shutil.copytree(FIXTURE_BUNDLE, directory)
            manifest["key"] = key
            manifest["streams"] = [
                {
                    "name": STREAM,
                    "canonicalType": "customer",
                    "entry": f"streams/{STREAM}.py",
                    "everySeconds": 3600,
                }
            ]
            (directory / "src" / "streams").mkdir()
            (directory / "src" / "streams" / f"{STREAM}.py").write_text(STREAM_CODE)
            (directory / "manifest.json").write_text(json.dumps(manifest))
            archive, _ = pack(directory)
        version = ok(
            client.post(
                f"{registry}/v1/extensions/{key}/versions",
                content=archive,
                headers={"content-type": "application/gzip"},
            )
        )
        installation = ok(
            client.post(
                f"{registry}/v1/installations",
                json={"extension_key": key, "settings": {"webhook_secret": WEBHOOK_SECRET}},
            )
        )
        webhook = ok(client.get(f"{registry}/v1/installations/{installation['id']}/webhook"))
        delivery_id = deliver_one(client, suite, installation["id"], webhook["url"])
        api_key = ok(
            client.post(
                f"{registry}/v1/installations/{installation['id']}/api-keys",
                json={"name": "seeded"},
            )
        )
        # No page, action or slot is seeded: their ids only need to be the same for A and B.
        extra = {"key_id": api_key["key"]["key_id"], "page": "overview", "action": "save"}
        extra["slot"] = "installation.overview.panel"
        if "logs" in suite.services:
            extra |= seed_alerts(client, suite)
        if "sync" in suite.services:
            extra |= seed_stream(client, suite, installation["id"])
    return Workspace(
        id=workspace["id"],
        admin=admin,
        member=member_token["token"],
        revoked=doomed["token"],
        ids={
            "workspace_id": workspace["id"],
            "installation_id": installation["id"],
            "member_id": member["id"],
            "token_id": member_token["id"],
            "key": key,
            "extension_key": key,
            "version_id": version.get("version_id") or version.get("id", ""),
            "name": "webhook_secret",
            "hook_url": webhook.get("url", ""),
            "hook_id": webhook["url"].rsplit("/", 1)[-1],
            "delivery_id": delivery_id,
            **extra,
        },
    )


def seed_alerts(client: httpx.Client, suite: Suite) -> dict[str, str]:
    """An alert destination and a rule that sends to it (a rule that stays quiet: no test
    connection fails in the sweeps)."""
    logs = suite.url("logs")
    destination = client.post(
        f"{logs}/v1/alerts/destinations", json={"url": ALERT_URL, "description": "seeded"}
    )
    assert destination.status_code == 201, destination.text
    destination_id = destination.json()["destination"]["id"]
    rule = client.post(
        f"{logs}/v1/alerts/rules",
        json={"type": "test_connection_failed", "destination_id": destination_id},
    )
    assert rule.status_code == 201, rule.text
    return {"destination_id": destination_id, "rule_id": rule.json()["id"]}


def seed_stream(client: httpx.Client, suite: Suite, installation_id: str) -> dict[str, str]:
    """Once sync schedules the installation's stream, reset it: one cursor history entry."""
    base = f"{suite.url('sync')}/v1/installations/{installation_id}/streams"
    deadline = time.monotonic() + 30
    while client.get(base).status_code != 200:
        assert time.monotonic() < deadline, "sync never scheduled the seeded stream"
        time.sleep(0.1)
    reset = client.post(f"{base}/{STREAM}/reset")
    assert reset.status_code == 200, reset.text
    return {"stream": STREAM, "entry_id": reset.json()["entry"]["entry_id"]}


RECORDER_BUNDLE = Path(__file__).parent / "fixtures" / "recorder"


def install_recorder(suite: Suite, workspace: Workspace, auth: str, secret: str) -> dict[str, str]:
    """Deploy the invocation recorder with webhook scheme `auth` and install it with `secret`;
    wait until ingress serves it. Returns the installation id and its webhook URL."""
    installed = deploy_recorder(suite, workspace, auth, secret)
    wait_served(suite, workspace, installed["installation_id"])
    return installed


def deploy_recorder(suite: Suite, workspace: Workspace, auth: str, secret: str) -> dict[str, str]:
    """Deploy and install the recorder through the registry (ingress need not be up)."""
    from sdk.bundle import pack

    registry = suite.url("registry")
    key = f"recorder-{auth.replace('_', '-')}-{os.urandom(2).hex()}"
    manifest = json.loads((RECORDER_BUNDLE / "manifest.json").read_text())
    manifest["key"] = key
    manifest["webhooks"]["auth"] = auth
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / key
        shutil.copytree(RECORDER_BUNDLE, directory)
        (directory / "manifest.json").write_text(json.dumps(manifest))
        archive, _ = pack(directory)
    with httpx.Client(timeout=20, headers=workspace.auth()) as client:
        deployed = client.post(
            f"{registry}/v1/extensions/{key}/versions",
            content=archive,
            headers={"content-type": "application/gzip"},
        )
        assert deployed.status_code == 201, deployed.text
        installed = client.post(
            f"{registry}/v1/installations",
            json={"extension_key": key, "settings": {"webhook_secret": secret}},
        )
        assert installed.status_code in (200, 201), installed.text
        installation_id = installed.json()["id"]
        url = client.get(f"{registry}/v1/installations/{installation_id}/webhook").json()["url"]
    return {"installation_id": installation_id, "url": url}


def wait_served(suite: Suite, workspace: Workspace, installation_id: str) -> None:
    """Until ingress serves the installation's webhook endpoint, active."""
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=20, headers=workspace.auth()) as client:
        while time.monotonic() < deadline:
            seen = client.get(f"{suite.url('ingress')}/v1/installations/{installation_id}/webhook")
            if seen.status_code == 200 and seen.json().get("state") in (None, "active"):
                return
            time.sleep(0.1)
    raise AssertionError(f"ingress never served {installation_id}")


def deliver_one(client: httpx.Client, suite: Suite, installation_id: str, url: str) -> str:
    """Once ingress serves the installation, deliver one signed Stripe event; its delivery id."""
    from services.ingress.signatures import sign_stripe

    ingress = suite.url("ingress")
    deadline = time.monotonic() + 30
    body = json.dumps(
        {"id": f"evt_{os.urandom(6).hex()}", "type": "customer.created", "data": {"object": {}}}
    ).encode()
    while time.monotonic() < deadline:
        headers = {"stripe-signature": sign_stripe(body, WEBHOOK_SECRET, int(time.time()))}
        if httpx.post(url, content=body, headers=headers, timeout=20).status_code == 202:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("ingress never accepted the seeding delivery")
    while time.monotonic() < deadline:  # history is confirmed just after the answer
        page = client.get(f"{ingress}/v1/installations/{installation_id}/deliveries").json()
        if page["deliveries"]:
            return str(page["deliveries"][0]["delivery_id"])
        time.sleep(0.05)
    raise AssertionError("the seeding delivery never showed in history")
