"""Extension API routes through HTTP: the registry builds the table, ingress serves it.

Every test installs its own installation on one stack (registry + ingress + logs).
"""

from __future__ import annotations

import asyncio

import httpx

from tests.harness import Infra, eventually
from tests.ingress.ext_stack import (  # noqa: F401 (stack_fixture is the `stack` fixture)
    FIXTURE,
    RATE_LIMIT,
    Stack,
    bundle_of,
    replaced,
    stack_fixture,
)
from tests.registry.factories import new_tenant


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def test_routes_with_path_parameters_answer_get_post_delete(stack: Stack) -> None:
    installation = await stack.install()
    key = (await stack.api_key(installation))["secret"]
    listed = await stack.http.get(stack.ext(installation, "/orders?page=2"), headers=bearer(key))
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"orders": [{"id": "o_1"}], "query": {"page": "2"}}
    one = await stack.http.get(stack.ext(installation, "/orders/o_42"), headers=bearer(key))
    assert one.json() == {"id": "o_42", "method": "GET"}
    created = await stack.http.post(
        stack.ext(installation, "/orders"), json={"amount": 5}, headers=bearer(key)
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/orders/o_2"
    assert "set-cookie" not in created.headers  # not on the allow-list
    assert created.headers["x-content-type-options"] == "nosniff"
    refused = await stack.http.post(
        stack.ext(installation, "/orders"), json={}, headers=bearer(key)
    )
    assert refused.status_code == 400 and refused.json() == {"error": "amount is required"}
    deleted = await stack.http.delete(stack.ext(installation, "/orders/o_42"), headers=bearer(key))
    assert deleted.json() == {"deleted": "o_42"}
    wrong_method = await stack.http.put(
        stack.ext(installation, "/orders/o_42"), headers=bearer(key)
    )
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "GET, DELETE"
    missing = await stack.http.get(stack.ext(installation, "/nowhere"), headers=bearer(key))
    assert missing.status_code == 404


async def test_api_key_accepted_wrong_key_and_revoked_key_refused_public_open(stack: Stack) -> None:
    installation = await stack.install()
    issued = await stack.api_key(installation)
    url = stack.ext(installation, "/orders/o_1")
    assert (await stack.http.get(url, headers=bearer(issued["secret"]))).status_code == 200
    assert (await stack.http.get(url)).status_code == 401
    wrong = await stack.http.get(url, headers=bearer(issued["secret"][:-4] + "abcd"))
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    other = await stack.install()  # a key of another installation opens nothing here
    foreign = await stack.api_key(other)
    assert (await stack.http.get(url, headers=bearer(foreign["secret"]))).status_code == 401
    listed = await stack.http.get(
        f"{stack.registry}/v1/installations/{installation}/api-keys", headers=stack.tenant.admin
    )
    assert [k["prefix"] for k in listed.json()] == [issued["secret"][:12]]
    assert issued["secret"] not in listed.text

    async def last_used() -> float | None:
        keys = await stack.http.get(
            f"{stack.registry}/v1/installations/{installation}/api-keys",
            headers=stack.tenant.admin,
        )
        return keys.json()[0]["last_used_at"]

    assert await eventually(last_used, what="last_used_at of the key")
    revoked = await stack.http.delete(
        f"{stack.registry}/v1/installations/{installation}/api-keys/{issued['key']['key_id']}",
        headers=stack.tenant.admin,
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await stack.http.get(url, headers=bearer(issued["secret"]))).status_code == 401
    public = await stack.http.get(stack.ext(installation, "/status"))
    assert public.status_code == 200 and public.json() == {"ok": True}


async def test_rotated_key_replaces_the_old_one_and_members_cannot_manage_keys(
    stack: Stack,
) -> None:
    installation = await stack.install()
    old = await stack.api_key(installation)
    base = f"{stack.registry}/v1/installations/{installation}/api-keys"
    as_member = await stack.http.post(base, json={"name": "x"}, headers=stack.tenant.member)
    assert as_member.status_code == 403
    rotated = await stack.http.post(
        f"{base}/{old['key']['key_id']}/rotate", json={}, headers=stack.tenant.admin
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"]["rotated_from"] == old["key"]["key_id"]
    url = stack.ext(installation, "/orders")
    assert (await stack.http.get(url, headers=bearer(new["secret"]))).status_code == 200
    assert (await stack.http.get(url, headers=bearer(old["secret"]))).status_code == 401
    revived = await stack.http.post(
        f"{base}/{old['key']['key_id']}/rotate", json={}, headers=stack.tenant.admin
    )
    assert revived.status_code == 409 and "is revoked" in revived.text
    overlapping = await stack.http.post(
        f"{base}/{new['key']['key_id']}/rotate",
        json={"overlap_seconds": 600},
        headers=stack.tenant.admin,
    )
    assert overlapping.status_code == 201
    again = await stack.http.post(
        f"{base}/{new['key']['key_id']}/rotate", json={}, headers=stack.tenant.admin
    )
    assert again.status_code == 409 and "already rotated" in again.text
    assert (await stack.http.get(url, headers=bearer(new["secret"]))).status_code == 200
    listed = (await stack.http.get(base, headers=stack.tenant.admin)).json()
    assert [bool(k["revoked_at"]) for k in listed] == [True, True, False], listed


async def test_rate_limit_answers_429_with_retry_after(stack: Stack) -> None:
    installation = await stack.install()
    url = stack.ext(installation, "/status")
    statuses = [(await stack.http.get(url)).status_code for _ in range(RATE_LIMIT)]
    assert statuses == [200] * RATE_LIMIT
    limited = await stack.http.get(url)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    other = await stack.install()  # the limit is per installation
    assert (await stack.http.get(stack.ext(other, "/status"))).status_code == 200


async def test_disabled_installation_answers_503_without_running_code(stack: Stack) -> None:
    installation = await stack.install()
    disabled = await stack.http.post(
        f"{stack.registry}/v1/installations/{installation}/disable", headers=stack.tenant.admin
    )
    assert disabled.status_code == 200, disabled.text
    await stack.served(installation, state="disabled")
    answer = await stack.http.get(stack.ext(installation, "/status"))
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "disabled"


async def test_time_limit_answers_504_and_size_limits_hold(stack: Stack) -> None:
    installation = await stack.install()
    slow = await stack.http.get(stack.ext(installation, "/slow"))
    assert slow.status_code == 504
    big = await stack.http.get(stack.ext(installation, "/slow?big=1"))
    assert big.status_code == 502 and big.json()["error"]["code"] == "too_large"
    upload = await stack.http.post(stack.ext(installation, "/orders"), content=b"x" * 1_100_000)
    assert upload.status_code in (401, 413)  # auth is checked first: no key, no upload
    for query in ("html=1", "xml=1"):  # markup a browser would run goes out as plain text
        markup = await stack.http.get(stack.ext(installation, f"/status?{query}"))
        assert markup.headers["content-type"].startswith("text/plain"), query
        assert markup.headers["content-security-policy"] == "default-src 'none'; sandbox"


async def test_route_logs_are_filterable_by_route_path(stack: Stack) -> None:
    installation = await stack.install()
    key = (await stack.api_key(installation))["secret"]
    await stack.http.get(stack.ext(installation, "/orders/o_7"), headers=bearer(key))
    await stack.http.get(stack.ext(installation, "/orders"), headers=bearer(key))

    async def lines() -> list[dict[str, object]]:
        answer = await stack.http.get(
            f"{stack.logs}/v1/extensions/routes-pages/logs",
            params={"installation_id": installation, "route": "/orders/{id}"},
            headers=stack.tenant.admin,
        )
        items = answer.json()["items"]
        assert items, "no line yet"
        return list(items)

    found = await eventually(lines, timeout=20, what="route log lines")
    assert {line["message"] for line in found} == {"order read"}
    assert all(line["script_type"] == "route" for line in found)


async def test_deploy_refuses_unknown_auth_and_webhook_without_route_file(stack: Stack) -> None:
    archive = bundle_of(FIXTURE)
    bad_auth = replaced(
        archive,
        {
            "src/api/status.py": b"from sdk import api\nconfig = {'auth': 'magic'}\nGET = api(lambda r: {})\n"
        },
    )
    answer = await stack.http.post(
        f"{stack.registry}/v1/extensions/routes-pages/versions",
        content=bad_auth,
        headers={**stack.tenant.admin, "content-type": "application/gzip"},
    )
    assert answer.status_code == 422, answer.text
    assert "src/api/status.py" in answer.json()["error"]["message"]
    no_file = await stack.deploy(webhooks={"endpoint": "/webhooks/in", "auth": "api_key"})
    assert no_file.status_code == 422
    assert "src/api/webhooks/in.py" in no_file.json()["error"]["message"]
    no_action = replaced(archive, {"src/pages/board.py": b"def render(ctx):\n    return []\n"})
    refused = await stack.http.post(
        f"{stack.registry}/v1/extensions/routes-pages/versions",
        content=no_action,
        headers={**stack.tenant.admin, "content-type": "application/gzip"},
    )
    assert refused.status_code == 422
    assert "exports no action add_order" in refused.text


async def test_a_route_past_its_memory_limit_fails_alone(stack: Stack) -> None:
    installation = await stack.install()
    other = await stack.install()
    hog = await stack.http.get(stack.ext(installation, "/hostile?mem=1"))
    assert hog.status_code == 500, hog.text
    assert (await stack.http.get(stack.ext(installation, "/hostile"))).json() == {"ok": True}
    assert (await stack.http.get(stack.ext(other, "/status"))).status_code == 200


async def test_another_tenant_is_served_while_a_route_runs_to_its_time_limit(
    stack: Stack, infra: Infra, http: httpx.AsyncClient
) -> None:
    slow_one = await stack.install()
    other = Stack(
        stack.registry,
        stack.ingress,
        stack.logs,
        await new_tenant(infra, http, stack.registry, "b"),
        http,
    )
    assert (await other.deploy()).status_code in (200, 201)
    theirs = await other.install()
    finished: list[str] = []

    async def call(name: str, url: str) -> httpx.Response:
        answer = await http.get(url)
        finished.append(name)
        return answer

    slow, quick = await asyncio.gather(
        call("slow", stack.ext(slow_one, "/slow")), call("quick", other.ext(theirs, "/status"))
    )
    assert slow.status_code == 504 and quick.status_code == 200
    assert finished == ["quick", "slow"]
    # a tenant's installation id opens nothing of another tenant's pages
    refused = await http.get(
        f"{stack.ingress}/v1/installations/{theirs}/pages/board", headers=stack.tenant.admin
    )
    assert refused.status_code == 404
