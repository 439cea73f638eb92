"""Ingress on the isolated runtime: a hostile handler costs its own delivery, nobody else's."""

from __future__ import annotations

import asyncio

import msgspec

from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.ingress.app import create_app
from tests.harness import read_topic, serving, wait_ready
from tests.ingress.conftest import Ingress, ingress_settings
from tests.ingress.factories import installation
from tests.runtime.factories import BUNDLES, deploy_directory

JSON = {"content-type": "application/json"}


def attack(attack_name: str, **fields: object) -> bytes:
    return msgspec.json.encode({"attack": attack_name, **fields})


async def test_busy_loop_answers_5xx_while_another_tenant_is_served(
    infra, http, redis, producer, ingress: Ingress
):
    settings = ingress_settings(handler_time_limit_s=1.0)
    async with serving(create_app(settings, infra.settings())) as url:
        await wait_ready(http, url)
        quick = Ingress(url, http, redis, producer, ingress.keyring, infra)
        version = await deploy_directory(redis, BUNDLES / "hostile")
        spinner = await quick.install(installation(version, ingress.keyring, secret=None))
        other = await quick.install(
            installation(version, ingress.keyring, secret=None, workspace_id="ws_other")
        )
        spinning = asyncio.create_task(quick.deliver(spinner, attack("spin"), JSON))
        served = await quick.deliver(other, attack("ok"), JSON)
        stopped = await spinning
        again = await quick.deliver(spinner, attack("ok"), JSON)
    assert served.status_code == 200
    assert stopped.status_code == 500
    assert "time limit of 1s exceeded" in stopped.text
    assert again.status_code == 200
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda lines: any(_stopped(line, spinner.installation_id) for line in lines),
    )
    assert any(_stopped(line, spinner.installation_id) for line in seen)


def _stopped(line: ExtensionLogLine, installation_id: str) -> bool:
    return (
        line.installation_id == installation_id and "worker running it was stopped" in line.message
    )


async def test_handler_finds_no_service_secret_in_its_environment(redis, ingress: Ingress):
    version = await deploy_directory(redis, BUNDLES / "hostile")
    snapshot = await ingress.install(installation(version, ingress.keyring, secret=None))
    stolen = await ingress.deliver(snapshot, attack("environment", name="SECRETS_KEYRING"), JSON)
    assert stolen.status_code == 500
    assert "KeyError" in stolen.text and ingress.infra.keyring not in stolen.text
    fine = await ingress.deliver(snapshot, attack("ok"), JSON)
    assert fine.status_code == 200
