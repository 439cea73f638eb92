"""Draft deliveries: only the dev session's URL runs the draft, signature checked first."""

from __future__ import annotations

from contracts.topics import OBSERVED_RECORDS
from tests.harness import read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation, signed, stripe_event


async def drafted(ingress: Ingress, session: str = "a" * 32):  # type: ignore[no-untyped-def]
    active = await deploy(ingress.redis, label="1.0.0")
    draft = await deploy(ingress.redis, label="1.1.0-dev.1")
    snapshot = installation(
        active, ingress.keyring, draft=draft, draft_member_id="mem_dev", draft_session_id=session
    )
    return await ingress.install(snapshot), draft


async def test_the_session_url_runs_the_draft_and_its_writes_are_only_observed(ingress: Ingress):
    snapshot, draft = await drafted(ingress)
    event = stripe_event("customer.created")
    response = await ingress.http.post(
        f"{ingress.url}/hooks/{snapshot.hook_id}/dev/{'a' * 32}",
        content=signed(event)[0],
        headers=signed(event)[1],
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["version_id"] == draft.version_id and answer["would_write"] == 1
    observed = await read_topic(
        ingress.infra.bootstrap_servers,
        OBSERVED_RECORDS,
        lambda seen: any(r.installation_id == snapshot.installation_id for r in seen),
    )
    mine = [r for r in observed if r.installation_id == snapshot.installation_id]
    assert [r.mode for r in mine] == ["draft"] and mine[0].version_id == draft.version_id
    history = await ingress.api(
        "GET", f"/v1/installations/{snapshot.installation_id}/deliveries", snapshot.workspace_id
    )
    assert history.json()["deliveries"] == []  # not a provider delivery: nothing to replay


async def test_another_session_or_an_unsigned_delivery_never_runs_the_draft(ingress: Ingress):
    snapshot, _ = await drafted(ingress)
    body, headers = signed(stripe_event())
    base = f"{ingress.url}/hooks/{snapshot.hook_id}/dev"
    assert (
        await ingress.http.post(f"{base}/{'b' * 32}", content=body, headers=headers)
    ).status_code == 404
    unsigned = await ingress.http.post(f"{base}/{'a' * 32}", content=body)
    assert unsigned.status_code == 401


async def test_an_installation_without_a_draft_has_no_session_url(ingress: Ingress):
    active = await deploy(ingress.redis)
    snapshot = await ingress.install(installation(active, ingress.keyring))
    body, headers = signed(stripe_event())
    response = await ingress.http.post(
        f"{ingress.url}/hooks/{snapshot.hook_id}/dev/{'a' * 32}", content=body, headers=headers
    )
    assert response.status_code == 404
