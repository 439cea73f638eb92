"""Ingress keeps serving every tenant whatever a worker leaves behind, and /readyz says when
the runtime has no zygote (while it is replaced)."""

from __future__ import annotations

import os
import signal

import httpx

from services.ingress.app import create_app
from tests.harness import eventually, serving, wait_ready
from tests.ingress.conftest import Ingress, ingress_settings
from tests.ingress.factories import installation
from tests.ingress.test_isolation import JSON, attack
from tests.runtime.factories import BUNDLES, deploy_directory


def zygotes() -> set[int]:
    """Zygotes this test process started (its children), by pid."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"runtime.isolated.zygote" in command:
            found.add(int(name))
    return found


async def runtime_ready(http: httpx.AsyncClient, url: str) -> bool:
    return bool((await http.get(f"{url}/readyz")).json()["checks"].get("runtime"))


async def test_a_deep_tree_left_at_exit_and_a_lost_zygote_cost_no_tenant(
    infra, http, redis, producer, ingress: Ingress
):
    before = zygotes()
    async with serving(create_app(ingress_settings(), infra.settings())) as url:
        await wait_ready(http, url)
        [zygote] = zygotes() - before  # this ingress's own zygote
        live = Ingress(url, http, redis, producer, ingress.keyring, infra)
        version = await deploy_directory(redis, BUNDLES / "hostile")
        tenants = [
            await live.install(installation(version, ingress.keyring, secret=None, workspace_id=w))
            for w in ("ws_deep", "ws_other", "ws_third")
        ]
        assert (await live.deliver(tenants[1], attack("ok"), JSON)).status_code == 200
        deep = await live.deliver(tenants[0], attack("deep_tree_exit", depth=1_500), JSON)
        assert deep.status_code == 500
        for tenant in tenants:
            assert (await live.deliver(tenant, attack("ok"), JSON)).status_code == 200
        assert zygote in zygotes() and await runtime_ready(http, url)

        pidfd = os.pidfd_open(zygote)  # our own child: never a recycled pid
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.close(pidfd)

        async def red() -> bool:
            answer = await http.get(f"{url}/readyz")
            return answer.status_code == 503 and not answer.json()["checks"]["runtime"]

        await eventually(red, what="/readyz red while the zygote is missing")
        await eventually(lambda: runtime_ready(http, url), what="a new zygote")
        for tenant in tenants:
            assert (await live.deliver(tenant, attack("ok"), JSON)).status_code == 200
