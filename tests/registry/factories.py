"""Factories for registry tests: manifests, bundles, workspaces, and views of Redis and topics."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import AUDIT_EVENTS, INSTALLATION_SNAPSHOTS, Topic
from sdk.bundle import pack
from services.base.keys import create_redis
from services.registry.outbox import OutboxRelay, outbox_key
from services.registry.service import WorkspaceService
from services.registry.store import RegistryStore
from tests.harness import Infra, eventually

FIXTURES = Path(__file__).parent / "fixtures"
CONNECTORS = FIXTURES / "connectors"
GOOD_KEY = "good-key-4e1f"  # the fake sync service accepts api keys starting with "good-"


def manifest(
    key: str,
    version: str = "1.0.0",
    *,
    kind: str = "extension",
    hosts: list[str] | None = None,
    entities: list[dict[str, str]] | None = None,
    secrets: list[str] | None = None,
    defines: list[str] | None = None,
    config: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A manifest dict with keyword defaults (camelCase as authored)."""
    data: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "name": key.replace("-", " ").title(),
        "version": version,
        "permissions": {
            "entities": entities or [],
            "http": hosts or [],
            "secrets": secrets or [],
        },
        "entities": [{"name": name} for name in defines or []],
        "pages": [{"path": "/overview", "title": "Overview"}],
        "ui": [{"slot": "installation.overview.panel", "title": "Enrich", "page": "/overview"}],
        **extra,
    }
    if config is not None:
        data["config"] = config
    return data


def bundle(data: dict[str, Any], code: str = "") -> bytes:
    """The deterministic archive of a directory holding `data` as manifest.json."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "manifest.json").write_text(json.dumps(data))
        (directory / "main.py").write_text(code or f"# {data['key']} {data['version']}\n")
        for page in data.get("pages", []):  # a declared page needs its file (deploy check)
            entry = directory / (page.get("entry") or f"src/pages/{page['path'].strip('/')}.py")
            entry.parent.mkdir(parents=True, exist_ok=True)
            entry.write_text("def render(ctx):\n    return []\n")
        return pack(directory)[0]


def raw_bundle(manifest_json: bytes) -> bytes:
    """An archive holding `manifest_json` as is (unchecked: for invalid-manifest tests)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest_json)
        tar.addfile(info, io.BytesIO(manifest_json))
    return buffer.getvalue()


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class Tenant:
    """A fresh workspace with an admin token and a member token."""

    def __init__(self, workspace_id: str, admin: str, member: str) -> None:
        self.id = workspace_id
        self.admin = auth(admin)
        self.member = auth(member)


async def new_tenant(
    infra: Infra, http: httpx.AsyncClient, url: str, slug: str, redis_url: str = ""
) -> Tenant:
    """Bootstrap a workspace (operator command's code path), then add a member over HTTP."""
    from contracts.ids import new_id

    redis = create_redis(redis_url or infra.redis_url)
    try:
        service = WorkspaceService(RegistryStore(redis), OutboxRelay(redis, producer=lambda: None))
        workspace, _, issued = await service.bootstrap_workspace(
            f"{slug}-{new_id('t')[2:10]}", "admin@example.com"
        )
    finally:
        await redis.aclose()
    admin = auth(issued.token)
    member = await http.post(
        f"{url}/v1/members", json={"email": "member@example.com"}, headers=admin
    )
    token = await http.post(
        f"{url}/v1/tokens", json={"member_id": member.json()["id"]}, headers=admin
    )
    return Tenant(workspace.id, issued.token, token.json()["token"])


async def deploy(
    http: httpx.AsyncClient, url: str, tenant: Tenant, data: dict[str, Any], mode: str = "active"
) -> httpx.Response:
    return await http.post(
        f"{url}/v1/extensions/{data['key']}/versions",
        params={"mode": mode},
        content=bundle(data),
        headers={**tenant.admin, "content-type": "application/gzip"},
    )


async def install(
    http: httpx.AsyncClient, url: str, tenant: Tenant, key: str, **body: Any
) -> httpx.Response:
    return await http.post(
        f"{url}/v1/installations", json={"extension_key": key, **body}, headers=tenant.admin
    )


async def installed_crm(http: httpx.AsyncClient, url: str, tenant: Tenant) -> str:
    """The id of a new acme-crm installation holding an api key the fake sync accepts."""
    response = await install(http, url, tenant, "acme-crm", settings={"api_key": GOOD_KEY})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def snapshots_of(infra: Infra, installation_id: str, at_least_revision: int) -> list[Any]:
    """The snapshots of an installation on the topic once `at_least_revision` arrived, one
    per revision (the outbox relays at least once: a revision may be on the topic twice)."""
    seen = await read_topic_for(
        infra,
        INSTALLATION_SNAPSHOTS,
        lambda m: m.installation_id == installation_id and m.revision >= at_least_revision,
    )
    return list({m.revision: m for m in seen if m.installation_id == installation_id}.values())


async def audit_events(infra: Infra, workspace_id: str, action: str) -> list[Any]:
    """Audit events of a workspace with `action`, once at least one arrived; one per event id
    (the outbox relays at least once, and a re-publication keeps its id)."""
    seen = await read_topic_for(
        infra, AUDIT_EVENTS, lambda m: m.workspace_id == workspace_id and m.action == action
    )
    unique = {m.event_id: m for m in seen if m.workspace_id == workspace_id and m.action == action}
    return list(unique.values())


async def read_topic_for(infra: Infra, topic: Topic[Any], match: Any) -> list[Any]:
    """Decoded messages of `topic` once one matches."""
    return await read_decoded(infra, topic, lambda msgs: any(match(m) for m in msgs))


async def read_decoded(infra: Infra, topic: Topic[Any], until: Any) -> list[Any]:
    """Decoded messages of `topic` once `until(messages)` holds; undecodable ones (other
    suites park garbage on purpose) are skipped."""
    from tests.harness import read_topic

    def decoded(records: list[Any]) -> list[Any]:
        messages = []
        for record in records:
            try:
                messages.append(topic.decode(record.value))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        return messages

    records = await read_topic(
        infra.bootstrap_servers,
        topic,
        until=lambda msgs: until(decoded(msgs)),
        raw=True,
    )
    return decoded(records)


async def wait_outbox_drained(infra: Infra, workspace_id: str, timeout: float = 20) -> None:
    """Until the relay published everything the workspace committed."""
    redis = create_redis(infra.redis_url)
    try:

        async def drained() -> bool:
            return not await redis.xlen(outbox_key(workspace_id))

        await eventually(drained, timeout=timeout, what="outbox drained")
    finally:
        await redis.aclose()


REGISTRY_KEYS = ("{w:", "workspaces:", "catalog:", "bundle:", "oauth:", "token:", "outbox:")


async def redis_dump(infra: Infra, only_registry: bool = False) -> dict[str, Any]:
    """Every key and value in Redis (or only the registry's keys, which other tests never touch)."""
    redis = create_redis(infra.redis_url)
    dump: dict[str, Any] = {}
    try:
        async for key in redis.scan_iter(count=1000):
            if only_registry and not key.decode().startswith(REGISTRY_KEYS):
                continue
            kind = (await redis.type(key)).decode()
            if kind == "string":
                dump[key.decode()] = await redis.get(key)
            elif kind == "hash":
                dump[key.decode()] = await redis.hgetall(key)
            elif kind == "set":
                dump[key.decode()] = sorted(await redis.smembers(key))
            elif kind == "stream":
                dump[key.decode()] = [f for _, f in await redis.xrange(key)]
            elif kind == "list":
                dump[key.decode()] = await redis.lrange(key, 0, -1)
            elif kind == "zset":
                dump[key.decode()] = await redis.zrange(key, 0, -1, withscores=True)
    finally:
        await redis.aclose()
    return dump


async def end_offsets(infra: Infra, topic: Topic[Any]) -> dict[int, int]:
    """The end offset of every partition of a topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        offsets = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()
