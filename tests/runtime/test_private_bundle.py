"""The hostile extension end to end: deployed as a private bundle through the registry,
installed, and sent its attacks as webhooks through ingress on the isolated runtime."""

from __future__ import annotations

import asyncio

import msgspec

from contracts.topics import EXTENSION_LOGS
from sdk.bundle import pack
from tests.harness import read_topic
from tests.ingress.conftest import running_ingress
from tests.registry.conftest import fake_sync, registry_settings, running_registry
from tests.registry.factories import new_tenant
from tests.runtime.factories import BUNDLES

__all__ = ["fake_sync"]  # the registry's stand-in for sync, used as a fixture here
JSON = {"content-type": "application/json"}


def attack(attack_name: str, **fields: object) -> bytes:
    return msgspec.json.encode({"attack": attack_name, **fields})


async def test_private_hostile_extension_is_contained_end_to_end(
    infra, http, redis, producer, fake_sync
):
    async with running_registry(infra, http, registry_settings(fake_sync)) as registry:
        tenant = await new_tenant(infra, http, registry, "hostile")
        uploaded = await http.post(
            f"{registry}/v1/extensions/hostile/versions",
            content=pack(BUNDLES / "hostile")[0],
            headers={**tenant.admin, "content-type": "application/gzip"},
        )
        assert uploaded.status_code == 201, uploaded.text
        installed = await http.post(
            f"{registry}/v1/installations",
            json={"extension_key": "hostile"},
            headers=tenant.admin,
        )
        assert installed.status_code == 201, installed.text
        installation_id = installed.json()["id"]
        hook_id = installed.json()["webhook_url"].rstrip("/").rsplit("/", 1)[-1]
        async with running_ingress(infra, http, redis, producer) as ingress:
            hook = f"{ingress.url}/hooks/{hook_id}"
            for _ in range(200):  # until ingress's snapshot view has the installation
                served = await http.post(hook, content=attack("ok"), headers=JSON)
                if served.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert served.json() == {"got": "fine"}
            url = infra.redis_url.removeprefix("redis://").split("/")[0]
            host, port = url.rsplit(":", 1)
            attempts = [
                attack("environment", name="SECRETS_KEYRING"),
                attack("environment", name="INTERNAL_TOKEN"),
                attack("connect_tcp", host=host, port=int(port)),
                attack("import_module", module="services.base.secrets_crypto"),
                attack("spawn"),
            ]
            for body in attempts:
                answer = await http.post(hook, content=body, headers=JSON)
                assert answer.status_code == 500, answer.text
                assert infra.keyring not in answer.text
            still = await http.post(hook, content=attack("ok"), headers=JSON)
            assert still.status_code == 200
    seen = await read_topic(
        infra.bootstrap_servers,
        EXTENSION_LOGS,
        until=lambda lines: (
            sum(m.installation_id == installation_id and m.kind == "error" for m in lines)
            >= len(attempts)
        ),
    )
    errors = [m.message for m in seen if m.installation_id == installation_id and m.kind == "error"]
    assert sum("KeyError" in m for m in errors) == 2
    assert sum("Operation not permitted" in m for m in errors) == 2
    assert sum("No module named" in m for m in errors) == 1  # no such file in its view
