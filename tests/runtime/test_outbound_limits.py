"""What a declared host cannot make the runtime's outbound client do (runtime/outbound.py).

- The `Host` header is the URL's own: code that sets another cannot reach a different site
  behind the declared host's shared front (domain fronting through a CDN).
- An answer is read up to a bound: a provider streaming without end, or a small gzip body
  that expands without end, is abandoned mid-read, not held whole in the service's memory.

The declared host `api.probe.example` is routed to a local server (`host_overrides`), so
the requests take the same path as a provider's, without TLS.
"""

from __future__ import annotations

import gzip
from typing import Any

from litestar import Litestar, Request, get
from litestar.response import Response, Stream

from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation
from tests.runtime.test_isolation import attack

MIB = 1024 * 1024
ENDLESS_MIB = 256  # what the server would send if the client read it all


def provider() -> Litestar:
    sent = {"endless": 0}

    @get("/host", sync_to_thread=False)
    def host(request: Request) -> dict[str, Any]:
        return {"host": request.headers.get("host")}

    @get("/endless", sync_to_thread=False)
    def endless() -> Stream:
        def chunks() -> Any:
            for _ in range(ENDLESS_MIB):
                sent["endless"] += 1
                yield b"x" * MIB

        return Stream(chunks(), media_type="application/octet-stream")

    bomb = gzip.compress(b"\0" * (64 * MIB))  # ~64 KB on the wire

    @get("/bomb", sync_to_thread=False)
    def gzip_bomb() -> Response:
        return Response(bomb, media_type="application/json", headers={"content-encoding": "gzip"})

    app = Litestar([host, endless, gzip_bomb])
    app.state.sent = sent
    return app


async def invoke(redis, keyring, producer, base: str, name: str, **fields: object) -> Any:
    runtime = make_runtime(
        redis, keyring, producer, host_overrides={"api.probe.example": base}, time_limit_s=20.0
    )
    try:
        snapshot = installation(await deploy_directory(redis, BUNDLES / "hostile"))
        return await runtime.invoke(attack(snapshot, name, **fields))
    finally:
        await runtime.close()


async def test_the_host_header_is_always_the_declared_hosts(infra, redis, keyring, producer):
    async with serving(provider()) as base:
        url = "https://api.probe.example/host"
        result = await invoke(
            redis, keyring, producer, base, "http_as_host", url=url, host="other.example"
        )
    assert result.outcome == "ok", result.error
    assert result.response is not None and result.response.body == {
        "got": {"host": "api.probe.example"}
    }


async def test_an_endless_answer_is_abandoned_mid_read(infra, redis, keyring, producer):
    app = provider()
    async with serving(app) as base:
        url = "https://api.probe.example/endless"
        result = await invoke(redis, keyring, producer, base, "http_size", url=url)
    assert result.outcome == "error"
    assert "AnswerTooLarge" in (result.error or ""), result.error
    assert app.state.sent["endless"] < ENDLESS_MIB // 4  # the client hung up early


async def test_a_compressed_answer_expanding_past_the_bound_is_refused(
    infra, redis, keyring, producer
):
    async with serving(provider()) as base:
        url = "https://api.probe.example/bomb"
        result = await invoke(redis, keyring, producer, base, "http_size", url=url)
    assert result.outcome == "error"
    assert "AnswerTooLarge" in (result.error or ""), result.error


async def test_an_answer_within_the_bound_is_read_whole(infra, redis, keyring, producer):
    async with serving(provider()) as base:
        url = "https://api.probe.example/host"
        result = await invoke(redis, keyring, producer, base, "http_size", url=url)
    assert result.outcome == "ok", result.error
    assert result.response is not None
    assert result.response.body == {"got": len(b'{"host":"api.probe.example"}')}
