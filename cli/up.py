"""`backfill up`: the whole suite on one machine, started in order and stopped in reverse.

Order: broker and Valkey (unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL name external ones) →
every registry topic → the five services as separate processes → all `/readyz` green → the
`dev` workspace bootstrapped → URLs and admin token printed. From then on a service that
dies is restarted with backoff (cli/supervisor.py) while the broker, Valkey and the other
services keep running; only Ctrl-C / SIGTERM, or a crash loop, stops the suite. Stopping
stops the services first (they finish requests and commit offsets), then Valkey (AOF fsync),
then the broker. Children die with the supervisor (PR_SET_PDEATHSIG), so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from cli import broker_store
from cli.embedded import (
    EMBEDDED_SESSION_TIMEOUT_MS,
    EmbeddedError,
    EmbeddedProcess,
    die_with_parent,
    start_broker,
    start_valkey,
    start_valkey_cluster,
)
from cli.supervisor import CrashLoop, Supervisor
from services.base.secrets_crypto import Keyring
from services.base.settings import SettingsError, load


class UpSettings(msgspec.Struct, frozen=True, kw_only=True):
    """`BACKFILL_*` settings of the local suite."""

    home: str = ".backfill"
    broker_port: int = 19092
    valkey_port: int = 16379
    # N > 0: a Valkey Cluster of N nodes on valkey_port, valkey_port + 1, … (docs/scaling.md).
    valkey_cluster: int = 0
    workspace: str = "dev"
    admin_email: str = "admin@example.com"
    ready_timeout_s: float = 90.0


SERVICES: dict[str, int] = {
    "registry": 8001,
    "ingress": 8002,
    "sync": 8003,
    "logs": 8004,
    "console": 8000,
}


def service_port(name: str, env: dict[str, str]) -> int:
    """The port a service will listen on, from `<NAME>_PORT` or its default."""
    raw = env.get(f"{name.upper()}_PORT", str(SERVICES[name]))
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(
            f"invalid setting {name.upper()}_PORT={raw!r}: expected an integer"
        ) from None


@dataclass
class Suite:
    """The processes `up` started, in start order."""

    home: Path
    env: dict[str, str]
    infra: list[EmbeddedProcess] = field(default_factory=list)
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_infrastructure(self, settings: UpSettings) -> None:
        """Start the embedded broker and Valkey unless external ones are configured."""
        logs = self.home / "logs"
        if "KAFKA_BOOTSTRAP_SERVERS" not in self.env:
            broker = start_broker(settings.broker_port, logs / "broker.log")
            self.infra.append(broker)
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{broker.port}"
            self.env.setdefault("KAFKA_SESSION_TIMEOUT_MS", str(EMBEDDED_SESSION_TIMEOUT_MS))
        if "REDIS_URL" not in self.env and settings.valkey_cluster > 0:
            ports = [settings.valkey_port + i for i in range(settings.valkey_cluster)]
            cluster = start_valkey_cluster(ports, self.home / "valkey-cluster", logs)
            self.infra.extend(cluster.nodes)
            self.env["REDIS_URL"] = cluster.url
        if "REDIS_URL" not in self.env:
            valkey = start_valkey(settings.valkey_port, self.home / "valkey", logs / "valkey.log")
            self.infra.append(valkey)
            self.env["REDIS_URL"] = f"redis://127.0.0.1:{valkey.port}/0"

    def start_services(self) -> None:
        """Start each service as `python -m services.<name>`, logging JSON to .backfill/logs."""
        for name in SERVICES:
            self.start_service(name)

    def start_service(self, name: str) -> subprocess.Popen[bytes]:
        """(Re)start one service; its output is appended to .backfill/logs/<name>.log."""
        log_file = self.home / "logs" / f"{name}.log"
        with log_file.open("ab") as out:
            self.services[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        return self.services[name]

    def is_ready(self, name: str) -> bool:
        """One quick `/readyz` probe of a service."""
        url = f"http://127.0.0.1:{service_port(name, self.env)}/readyz"
        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def dead_infrastructure(self) -> EmbeddedProcess | None:
        """The embedded broker or Valkey if it exited (nothing restarts them: see supervisor)."""
        return next((p for p in self.infra if p.process.poll() is not None), None)

    def wait_ready(self, timeout: float) -> None:
        """Poll every `/readyz` until all are 200; fail naming the service that is not."""
        deadline = time.monotonic() + timeout
        pending = dict.fromkeys(self.services)
        with httpx.Client(timeout=2) as client:
            while pending and time.monotonic() < deadline:
                for name in list(pending):
                    process = self.services[name]
                    if process.poll() is not None:
                        tail = (self.home / "logs" / f"{name}.log").read_text(errors="replace")[
                            -1500:
                        ]
                        raise EmbeddedError(f"{name} exited with {process.returncode}:\n{tail}")
                    try:
                        url = f"http://127.0.0.1:{service_port(name, self.env)}/readyz"
                        if client.get(url).status_code == 200:
                            pending.pop(name)
                    except httpx.HTTPError:
                        pass
                time.sleep(0.2)
        if pending:
            raise EmbeddedError(
                f"not ready after {timeout:.0f}s: {', '.join(pending)} (see {self.home}/logs)"
            )

    def stop(self) -> None:
        """Services first (requests finish, offsets commit), then Valkey, then the broker."""
        for process in self.services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.services.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.save_topics()
        for embedded in reversed(self.infra):
            embedded.stop()

    def restore_topics(self) -> None:
        """Write back the embedded broker's topics saved at the last clean stop."""
        if not self._embedded_broker():
            return
        restored = broker_store.restore(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.broker_dir)
        if restored is not None:
            moved = f"; {restored.moved} landed at another offset" if restored.moved else ""
            print(
                f"backfill: restored {restored.messages} messages and {restored.groups} consumer "
                f"groups of the embedded broker from {self.broker_dir}{moved}",
                flush=True,
            )

    def save_topics(self) -> None:
        """Save the embedded broker's topics before it stops (it keeps them in memory only)."""
        broker = self._embedded_broker()
        if broker is None or broker.process.poll() is not None:
            return
        try:
            count = broker_store.save(
                self.env["KAFKA_BOOTSTRAP_SERVERS"],
                self.broker_dir,
                [self.env.get("LOGS_GROUP_ID", "logs"), self.env.get("SYNC_GROUP_ID", "sync")],
            )
        except Exception as error:  # the stop goes on; the previous save stays in place
            print(f"backfill: could not save the broker's topics: {error!r}", file=sys.stderr)
            return
        print(
            f"backfill: saved {count} messages of the embedded broker to {self.broker_dir}",
            flush=True,
        )

    @property
    def broker_dir(self) -> Path:
        return self.home / "broker"

    def _embedded_broker(self) -> EmbeddedProcess | None:
        return next((p for p in self.infra if p.name == "broker"), None)


def _keyring(home: Path, env: dict[str, str]) -> str:
    """SECRETS_KEYRING from env, else a keyring generated once into .backfill/keyring."""
    if env.get("SECRETS_KEYRING"):
        return env["SECRETS_KEYRING"]
    path = home / "keyring"
    if not path.exists():
        path.write_text(Keyring.generate_entry("v1") + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def _bootstrap(env: dict[str, str], settings: UpSettings, token_file: Path) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.registry",
            "bootstrap",
            settings.workspace,
            "--email",
            settings.admin_email,
            "--token-file",
            str(token_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise EmbeddedError(
            f"bootstrap of workspace {settings.workspace!r} failed:\n{result.stderr[-1500:]}"
        )
    return result.stdout.strip().splitlines()[-1]


def up(env: dict[str, str] | None = None) -> int:
    """Run the suite until SIGINT/SIGTERM; return the exit code."""
    env = dict(os.environ if env is None else env)
    settings = load(UpSettings, "BACKFILL_", env)
    home = Path(settings.home)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    env["SECRETS_KEYRING"] = _keyring(home, env)
    env.setdefault("INTERNAL_TOKEN", secrets.token_urlsafe(32))
    # The embedded logs store lives with the rest of this suite's state (one process owns it).
    env.setdefault("LOGS_DATA_DIR", str(home / "logs-store"))
    for name in SERVICES:
        env.setdefault(f"CONSOLE_{name.upper()}_URL", f"http://127.0.0.1:{service_port(name, env)}")
    # The services that call each other find each other on the ports this suite uses (a
    # suite on other ports sent the registry's test-connection to sync's default port).
    url = {name: f"http://127.0.0.1:{service_port(name, env)}" for name in SERVICES}
    env.setdefault("REGISTRY_SYNC_URL", url["sync"])
    env.setdefault("REGISTRY_INGRESS_URL", url["ingress"])
    env.setdefault("SYNC_REGISTRY_URL", url["registry"])
    # OAuth providers send the admin back through the console, which returns to the page.
    env.setdefault(
        "REGISTRY_OAUTH_REDIRECT_URL",
        f"http://127.0.0.1:{service_port('console', env)}/oauth/callback",
    )
    suite = Suite(home=home, env=env)
    stopping = False

    def on_signal(signum: int, _: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        suite.start_infrastructure(settings)
        from services.base.kafka import ensure_topics

        asyncio.run(ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"]))
        suite.restore_topics()
        suite.start_services()
        suite.wait_ready(settings.ready_timeout_s)
        token = _bootstrap(env, settings, home / "admin-token")
        _print_banner(env, token, home)
        supervisor = Supervisor(
            start=suite.start_service,
            ready=suite.is_ready,
            log_of=lambda name: str(home / "logs" / f"{name}.log"),
        )
        for name, process in suite.services.items():
            supervisor.adopt(name, process)
        while not stopping:
            supervisor.tick()
            dead = suite.dead_infrastructure()
            if dead is not None:
                raise EmbeddedError(
                    f"the embedded {dead.name} exited with {dead.process.returncode}; "
                    f"stopping the suite — see {home / 'logs' / (dead.name + '.log')}"
                )
            time.sleep(0.2)
        print("backfill: stopping services, then valkey, then the broker", flush=True)
        return 0
    except (EmbeddedError, SettingsError, CrashLoop) as error:
        print(f"backfill: {error}", file=sys.stderr)
        return 1
    finally:
        suite.stop()


def _print_banner(env: dict[str, str], token: str, home: Path) -> None:
    lines = ["", "Backfill extensions platform is running (Ctrl-C stops it).", ""]
    for name in SERVICES:
        port = service_port(name, env)
        lines.append(f"  {name:<9} http://127.0.0.1:{port}   ready")
    lines += [
        "",
        f"  console    http://127.0.0.1:{service_port('console', env)}/",
        f"  kafka      {env['KAFKA_BOOTSTRAP_SERVERS']}",
        f"  redis      {env['REDIS_URL']}",
        "",
        "  sign in to the console as the workspace admin (the token stays in the URL fragment,",
        "  which the browser never sends):",
        f"  http://127.0.0.1:{service_port('console', env)}/sign-in#token={token}",
        "",
        f"  admin token (workspace {load(UpSettings, 'BACKFILL_', env).workspace}): {token}",
        f"  also in {home / 'admin-token'}",
        "",
    ]
    print("\n".join(lines), flush=True)
