"""The API-route arm of `bench/ingress.py`: `GET /ext/<installation>/deals/{id}` of the
first-party example `examples/deals-board`, with an API key, through the isolated runtime.

What one request costs: route match, the API key's digest looked up in Valkey, the rate
limit's INCR (on, with a limit far above the bench's rate), one invocation in a locked-down
worker, the answer's header allow-list and JSON. Nothing is published but the log lines.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
from redis.asyncio import Redis

from bench.bundles import active_snapshot, store_bundle
from contracts.ids import new_id
from contracts.routes import ApiKey
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.api_keys import api_key_record_key, new_api_key
from services.base.auth import token_digest
from services.base.kafka import create_producer, publish
from services.base.settings import InfraSettings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "deals-board"
RATE_LIMIT_ENV = {"INGRESS_ROUTE_RATE_LIMIT": "1000000000"}  # on, never reached


async def install_deals_board(env: dict[str, str], workspace_id: str) -> tuple[str, str]:
    """Store the example's bundle, publish an active installation and one API key of it."""
    settings = InfraSettings(
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], redis_url=env["REDIS_URL"]
    )
    redis = Redis.from_url(settings.redis_url)
    version = await store_bundle(redis, EXAMPLE, with_routes=True)
    snapshot = active_snapshot(version, workspace_id)
    secret = new_api_key()
    key = ApiKey(
        key_id=new_id("key"),
        installation_id=snapshot.installation_id,
        name="bench",
        prefix=secret[:12],
        created_at=time.time(),
        created_by="mem_bench",
    )
    await redis.set(
        api_key_record_key(snapshot.installation_id, token_digest(secret)), msgspec.json.encode(key)
    )
    await redis.aclose()
    producer = create_producer(settings, "bench-routes")
    await producer.start()
    await publish(producer, INSTALLATION_SNAPSHOTS, snapshot)
    await producer.stop()
    return snapshot.installation_id, secret


def route_requests(installation_id: str, secret: str, count: int) -> list[bytes]:
    """`count` keep-alive GETs of one deal, each with the API key."""
    request = (
        f"GET /ext/{installation_id}/deals/d_101 HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {secret}\r\n\r\n"
    ).encode()
    return [request] * count
