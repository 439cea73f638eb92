"""Tenant isolation, generated from the live OpenAPI documents: a new endpoint is swept
without anyone listing it.

For every operation of every API service:
- with an id in its path, called with workspace A's ids and workspace B's admin token: never
  a 2xx (unless listed below as a workspace-scoped query, and then with none of A's data),
  never A's data in the body;
- every write called with A's member token: 403, and none of A's stored state changed;
- called with A's revoked token: 401.
Request bodies are valid examples generated from the document, so that no answer is a 400
that hides what the sweep is looking for. A path parameter with no seeded id fails the test
naming it: seed it in tests/robustness/live.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from redis.asyncio import Redis
from schemathesis import GenerationMode

from tests.robustness.live import Suite
from tests.robustness.sse import session_for

SWEPT = ("registry", "ingress", "logs", "sync")

# Path parameter → the seeded id of workspace A it takes.
IDS = {
    "installation_id": "installation_id",
    "key": "key",
    "extension_key": "extension_key",
    "name": "name",
    "token_id": "token_id",
    "delivery_id": "delivery_id",
    "hook_id": "hook_id",
    "destination_id": "destination_id",
    "rule_id": "rule_id",
    "stream": "stream",
    "entry_id": "entry_id",
    "key_id": "key_id",
    "path": "page",
    "action": "action",
    "slot": "slot",
}

# Operations answered 2xx to any workspace because they query the caller's own workspace
# by a name, not an object of another workspace: checked for A's data instead.
WORKSPACE_SCOPED = {
    # the caller's own installations' contributions to a console slot
    ("GET", "/v1/ui/{slot}"),
    # the caller's own log lines of an extension key (B may install the same extension)
    ("GET", "/v1/extensions/{extension_key}/logs"),
    ("GET", "/v1/extensions/{extension_key}/logs/stream"),
    # the caller's own draft of an extension key: removing none is not an error (idempotent)
    ("DELETE", "/v1/extensions/{key}/draft"),
}
# Writes a member may do by design (its own tokens).
MEMBER_WRITES = {
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{token_id}"),
    # a page action's role is the manifest's (member by default), checked per action
    ("POST", "/v1/installations/{installation_id}/pages/{path}/actions/{action}"),
}
# Providers sign deliveries (swept in test_webhook_fuzz); extensions' API routes take the
# installation's API keys, not workspace tokens (tests/ingress/test_ext_routes.py).
NOT_TOKEN_AUTHENTICATED = ("/hooks/", "/ext/")
ONE_EXAMPLE = settings(
    database=None,
    derandomize=True,
    max_examples=1,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def operations(live: Suite) -> list[tuple[str, Any]]:
    found = []
    for service in SWEPT:
        schema = schemathesis.openapi.from_url(f"{live.url(service)}/schema/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            if not operation.path.startswith(NOT_TOKEN_AUTHENTICATED):
                found.append((service, operation))
    return found


def request_for(operation: Any, ids: dict[str, str]) -> Any:
    """A valid generated request for `operation`, aimed at the objects named by `ids`."""
    drawn: list[Any] = []

    @ONE_EXAMPLE
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    def draw(case: Any) -> None:
        drawn.append(case)

    draw()
    case = drawn[0]
    for name in list(case.path_parameters or {}):
        assert name in IDS, f"no seeded id for path parameter {name!r} of {operation.path}"
        case.path_parameters[name] = ids[IDS[name]]
    return case


def authenticated(operation: Any) -> bool:
    """The document says the operation takes the bearer token."""
    return bool(operation.definition.raw.get("security"))


def admin_only(operation: Any) -> bool:
    """A write that documents 403 (members are refused)."""
    return operation.method.upper() != "GET" and "403" in operation.definition.raw["responses"]


def secrets_of(ids: dict[str, str], request_url: str) -> list[str]:
    """A's values that B never sent and must never see."""
    private = (
        *("workspace_id", "hook_id", "member_id", "version_id", "delivery_id", "token_id"),
        *("destination_id", "rule_id", "entry_id", "key_id"),
    )
    return [ids[k] for k in private if ids.get(k) and ids[k] not in request_url]


def stored_state(live: Suite, workspace_id: str) -> dict[str, Any]:
    """Every Redis value of the workspace (keys that name it), for before/after comparisons."""

    async def dump() -> dict[str, Any]:
        redis = Redis.from_url(live.infra.redis_url)
        state: dict[str, Any] = {}
        try:
            async for key in redis.scan_iter(match=f"*{workspace_id}*", count=1000):
                kind = (await redis.type(key)).decode()
                if kind == "string":
                    state[key.decode()] = await redis.get(key)
                elif kind == "hash":
                    state[key.decode()] = await redis.hgetall(key)
                elif kind == "set":
                    state[key.decode()] = sorted(await redis.smembers(key))
                elif kind == "zset":
                    state[key.decode()] = await redis.zrange(key, 0, -1, withscores=True)
                elif kind == "list":
                    state[key.decode()] = await redis.lrange(key, 0, -1)
                elif kind == "stream":
                    state[key.decode()] = [f for _, f in await redis.xrange(key)]
        finally:
            await redis.aclose()
        return state

    return asyncio.run(dump())


@pytest.fixture(scope="module")
def swept(live: Suite) -> list[tuple[str, Any]]:
    return operations(live)


def test_another_workspaces_admin_reaches_nothing_by_id(live: Suite, swept) -> None:
    a, b = live.workspaces["a"], live.workspaces["b"]
    leaks = []
    checked = 0
    for service, operation in swept:
        if "{" not in operation.path or not authenticated(operation):
            continue
        case = request_for(operation, a.ids)
        response = case.call(
            base_url=live.url(service),
            headers=b.auth("admin"),
            session=session_for(operation),
            timeout=30,
        )
        checked += 1
        label = (operation.method.upper(), operation.path)
        if response.status_code < 300 and label not in WORKSPACE_SCOPED:
            leaks.append(f"{label}: {response.status_code} {response.text[:300]}")
        for value in secrets_of(a.ids, str(response.request.url)):
            if value in response.text:
                leaks.append(f"{label}: A's {value!r} in {response.text[:300]}")
    print(f"isolation: {checked} operations called with another workspace's admin token")
    assert checked >= 20
    assert not leaks, "\n".join(leaks)


def test_members_get_403_on_every_admin_operation_and_nothing_changes(live: Suite, swept) -> None:
    a = live.workspaces["a"]
    before = stored_state(live, a.id)
    wrong = []
    checked = 0
    for service, operation in swept:
        label = (operation.method.upper(), operation.path)
        if not admin_only(operation) or label in MEMBER_WRITES:
            continue
        case = request_for(operation, a.ids)
        response = case.call(base_url=live.url(service), headers=a.auth("member"), timeout=30)
        checked += 1
        if response.status_code != 403:
            wrong.append(f"{label}: {response.status_code} {response.text[:300]}")
    print(f"isolation: {checked} admin operations called with a member token")
    assert checked >= 15
    assert not wrong, "\n".join(wrong)
    assert stored_state(live, a.id) == before


def test_a_revoked_token_gets_401_everywhere(live: Suite, swept) -> None:
    a = live.workspaces["a"]
    wrong = []
    checked = 0
    for service, operation in swept:
        if not authenticated(operation):
            continue  # e.g. the OAuth callback: its `state` is the credential
        checked += 1
        case = request_for(operation, a.ids)
        response = case.call(base_url=live.url(service), headers=a.auth("revoked"), timeout=30)
        if response.status_code != 401:
            label = (operation.method.upper(), operation.path)
            wrong.append(f"{label}: {response.status_code} {response.text[:300]}")
    print(f"isolation: {checked} operations called with a revoked token")
    assert checked >= 30
    assert not wrong, "\n".join(wrong)
