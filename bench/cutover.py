"""`make bench-cutover`: how long a rollback takes to reach every ingress replica's answers.

Starts its own embedded broker and Valkey, the registry and two ingress replicas (each
`python -m services.<name>`, default isolated runtime), deploys two versions of a tiny
extension whose public webhook answers with its version's label, installs it, then rolls
the installation back and forth (`POST /v1/installations/<id>/rollback`, the registry's HTTP
API, as `backfill rollback` does). For each rollback the time runs from the registry's
answer until *every* replica answers a delivery with the new version's handler: each replica
is sent one delivery after another (the next as soon as the previous is answered, about a
millisecond apart) until it does. Prints p50 / p99 / max over the rollbacks. 127.0.0.1 only;
bounded in count and time; stops every process it started, by pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import httpx

from bench.ingress import ROOT, infrastructure, stop, wait_until
from cli.embedded import free_port
from sdk.bundle import pack
from services.base.kafka import ensure_topics

KEY = "cutover-probe"
LABELS = ("1.0.0", "2.0.0")
HANDLER = """from sdk import api

LABEL = {label!r}


async def handle(request):
    return api.json({{"version": LABEL}})


POST = api(handle)
"""


def extension(root: Path, label: str) -> Path:
    """The probe extension at `label`: its webhook answers with the label."""
    directory = root / label
    (directory / "src" / "api" / "webhooks").mkdir(parents=True)
    manifest = {
        "key": KEY,
        "kind": "extension",
        "name": "Cutover probe",
        "version": label,
        "description": "Answers every webhook with its own version label.",
        "permissions": {},
        "webhooks": {"endpoint": "/webhooks/probe", "auth": "public"},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "src" / "api" / "webhooks" / "probe.py").write_text(HANDLER.format(label=label))
    return directory


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A service process of this run (stopped by pid), its output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def bootstrap(env: dict[str, str], home: Path) -> str:
    """A workspace and its admin token (the registry's own bootstrap command)."""
    token_file = home / "admin-token"
    subprocess.run(
        [
            *(sys.executable, "-m", "services.registry", "bootstrap", "bench"),
            *("--email", "admin@example.com", "--token-file", str(token_file)),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return token_file.read_text().strip()


async def version_of(client: httpx.AsyncClient, url: str) -> str | None:
    """The label a replica's handler answers a delivery with (None: not a 2xx)."""
    answer = await client.post(url, content=b"{}", headers={"content-type": "application/json"})
    if answer.status_code // 100 != 2:
        return None
    return str(answer.json().get("version"))


async def until_serving(client: httpx.AsyncClient, url: str, label: str, limit_s: float) -> float:
    """Deliver one after another until `url` answers with `label`; when it did (monotonic)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await version_of(client, url) == label:
            return time.monotonic()
    raise SystemExit(f"bench: {url} still not serving {label} after {limit_s}s")


async def cutovers(
    registry: str, token: str, replicas: list[str], hook_id: str, installation: str, count: int
) -> list[float]:
    """Roll back and forth `count` times; ms from the registry's answer to every replica."""
    headers = {"authorization": f"Bearer {token}"}
    urls = [f"{base}/hooks/{hook_id}" for base in replicas]
    seen: list[float] = []
    async with (
        httpx.AsyncClient(base_url=registry, headers=headers, timeout=30) as api,
        httpx.AsyncClient(timeout=10) as hooks,
    ):
        current = await version_of(hooks, urls[0])
        for i in range(count):
            target = LABELS[0] if current == LABELS[1] else LABELS[1]
            await asyncio.sleep(0.3 + 0.1 * (i % 3))  # not in phase with any poll interval
            change = {"to": VERSION_IDS[target]}
            answer = await api.post(f"/v1/installations/{installation}/rollback", json=change)
            answered = time.monotonic()
            if answer.status_code != 200:
                raise SystemExit(f"bench: rollback answered {answer.status_code}: {answer.text}")
            served = await asyncio.gather(*(until_serving(hooks, u, target, 30) for u in urls))
            seen.append((max(served) - answered) * 1000)
            current = target
    return seen


VERSION_IDS: dict[str, str] = {}  # label → the registry's version id (rollback names it)


async def prepare(registry: str, token: str, root: Path) -> tuple[str, str]:
    """Deploy both versions, install the extension on the newest; (installation, hook id)."""
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=registry, headers=headers, timeout=60) as api:
        for label in LABELS:
            directory = extension(root, label)
            archive, _ = pack(directory)
            deployed = await api.post(
                f"/v1/extensions/{KEY}/versions",
                params={"mode": "active"},
                content=archive,
                headers={"content-type": "application/gzip"},
            )
            if deployed.status_code not in (200, 201):
                raise SystemExit(f"bench: deploy answered {deployed.status_code}: {deployed.text}")
            VERSION_IDS[label] = str(deployed.json()["version_id"])
        created = await api.post("/v1/installations", json={"extension_key": KEY})
        if created.status_code not in (200, 201):
            raise SystemExit(f"bench: install answered {created.status_code}: {created.text}")
        body = created.json()
        return str(body["id"]), str(body["webhook_url"]).rstrip("/").rsplit("/", 1)[-1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> None:
    """Parse arguments, run the rollbacks, print the distribution."""
    parser = argparse.ArgumentParser(prog="python -m bench.cutover")
    parser.add_argument("--rollbacks", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=2)
    options = parser.parse_args()
    if options.rollbacks > 200 or not 1 <= options.replicas <= 4:
        raise SystemExit("bench: bounded to 200 rollbacks and 1-4 replicas")
    print(f"machine: {platform.machine()}, {platform.platform()}")
    home = Path(tempfile.mkdtemp(prefix="backfill-cutover-"))
    with infrastructure() as env:
        registry_port = free_port()
        ports = [free_port() for _ in range(options.replicas)]
        quiet = {**env, "LOG_LEVEL": "WARNING"}
        env = {**quiet, "REGISTRY_PORT": str(registry_port)}
        asyncio.run(ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"]))
        token = bootstrap(env, home)
        processes = [start(["-m", "services.registry"], env, home / "registry.log")]
        for port in ports:
            replica = {**env, "INGRESS_PORT": str(port)}
            processes.append(start(["-m", "services.ingress"], replica, home / f"{port}.log"))
        try:
            registry = f"http://127.0.0.1:{registry_port}"
            replicas = [f"http://127.0.0.1:{port}" for port in ports]
            for base in (registry, *replicas):
                wait_until(f"{base}/readyz")
            installation, hook_id = asyncio.run(prepare(registry, token, home))
            for base in replicas:  # every replica knows the installation before the first
                asyncio.run(_serving_any(f"{base}/hooks/{hook_id}"))
            seen = asyncio.run(
                cutovers(registry, token, replicas, hook_id, installation, options.rollbacks)
            )
        finally:
            for process in processes:
                stop(process)
    print(
        f"  {options.rollbacks} rollbacks, {options.replicas} ingress replicas: registry answer "
        f"→ every replica serving the new version: p50 {median(seen):.1f} ms, "
        f"p99 {percentile(seen, 99):.1f} ms, max {max(seen):.1f} ms   (target p99 <= 100 ms)"
    )
    print("  each: " + ", ".join(f"{ms:.0f}" for ms in seen))


async def _serving_any(url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await version_of(client, url) in LABELS:
                return
            await asyncio.sleep(0.1)
    raise SystemExit(f"bench: {url} never served the installation")


if __name__ == "__main__":
    main()
