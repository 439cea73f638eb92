"""Hosts a manifest names are checked at deploy and at connect: nothing inside the platform's
network (IP literals, localhost, private addresses, plain http for OAuth) is ever reached.

The session registry allows local OAuth providers (REGISTRY_OAUTH_ALLOW_LOCAL_PROVIDERS, set by
the test harness); a second, strict registry on the same Valkey shows what production does.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.harness import Infra, serving
from tests.registry.conftest import FakeSync, registry_settings, running_registry
from tests.registry.factories import Tenant, deploy, install, manifest, raw_bundle
from tests.registry.test_connections import FakeOAuth, oauth_connector


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("localhost", "localhost is not allowed"),
        ("10.0.0.5", "an IP address is not allowed"),
        ("api.example.com:0", "is not a number from 1 to 65535"),
        ("xn--zz.example.com", "invalid internationalised label"),
    ],
)
async def test_deploy_refuses_a_host_inside_the_network(
    http: httpx.AsyncClient, registry: str, tenant: Tenant, host: str, says: str
) -> None:
    data = manifest("probe-hosts", hosts=[host])  # the CLI's packer would refuse it first
    refused = await http.post(
        f"{registry}/v1/extensions/probe-hosts/versions",
        content=raw_bundle(json.dumps(data).encode()),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == "permissions.http[0]"
    assert says in refused.json()["error"]["message"]


async def test_a_declared_port_is_accepted(
    http: httpx.AsyncClient, registry: str, tenant: Tenant
) -> None:
    data = manifest("probe-port", hosts=["api.example.com:8443", "*.example.org"])
    accepted = await deploy(http, registry, tenant, data)
    assert accepted.status_code == 201, accepted.text


async def strict(infra: Infra, http: httpx.AsyncClient, fake_sync: FakeSync) -> running_registry:
    settings = registry_settings(fake_sync, oauth_allow_local_providers=False)
    return running_registry(infra, http, settings)


async def test_deploy_refuses_oauth_urls_on_local_addresses(
    http: httpx.AsyncClient, infra: Infra, fake_sync: FakeSync, tenant: Tenant
) -> None:
    async with await strict(infra, http, fake_sync) as registry:
        plain = await deploy(http, registry, tenant, oauth_connector("http://127.0.0.1:9"))
        literal = await deploy(http, registry, tenant, oauth_connector("https://127.0.0.1:9"))
    assert plain.status_code == 400 and plain.json()["error"]["field"] == "oauth.authorizeUrl"
    assert "only https" in plain.json()["error"]["message"]
    assert literal.status_code == 400 and "IP address" in literal.json()["error"]["message"]


async def test_connect_refuses_a_local_provider_and_posts_it_nothing(
    http: httpx.AsyncClient, infra: Infra, fake_sync: FakeSync, registry: str, tenant: Tenant
) -> None:
    provider = FakeOAuth()
    async with serving(provider.app()) as base:
        # deployed while local providers were allowed (the session registry) ...
        assert (await deploy(http, registry, tenant, oauth_connector(base))).status_code == 201
        created = await install(http, registry, tenant, "oauth-crm", settings={"client_id": "c"})
        iid = created.json()["id"]
        pending = await http.post(
            f"{registry}/v1/installations/{iid}/oauth/start", headers=tenant.admin
        )
        redirect = await http.get(pending.json()["authorization_url"])
        code_and_state = dict(httpx.URL(redirect.headers["location"]).params)
        # ... then an operator turned the allowance off: neither start nor the exchange go out
        async with await strict(infra, http, fake_sync) as strict_url:
            started = await http.post(
                f"{strict_url}/v1/installations/{iid}/oauth/start", headers=tenant.admin
            )
            exchanged = await http.get(f"{strict_url}/v1/oauth/callback", params=code_and_state)
    assert started.status_code == 400 and started.json()["error"]["field"] == "oauth.authorizeUrl"
    assert exchanged.status_code == 400 and exchanged.json()["error"]["field"] == "oauth.tokenUrl"
    assert len(provider.codes) == 1  # the code was never posted to the token endpoint
