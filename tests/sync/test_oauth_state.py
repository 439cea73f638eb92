"""OAuth state is reliable: a never-connected connection is not polled, and every report to
the registry says which token revision it is about."""

from __future__ import annotations

import msgspec

from contracts.installations import OAuthConnection
from tests.sync.conftest import canonical_of, put_snapshot, token_for
from tests.sync.oauth_stack import oauth_install, oauth_sync
from tests.sync.providers import PagedProvider


async def test_a_never_connected_oauth_connection_is_not_polled_nor_marked_needs_reauth(
    infra, http, redis, keyring, producer
):
    provider = PagedProvider(key="", customers=3)
    async with oauth_sync(infra, provider, tokens_checked=True) as stack:
        connected = await oauth_install(redis, keyring, refresh=stack.server.refresh_token)
        never = msgspec.structs.replace(
            await oauth_install(redis, keyring, refresh="unused"), oauth=OAuthConnection()
        )
        headers = await token_for(redis, never.workspace_id)
        await put_snapshot(producer, never)
        await put_snapshot(producer, connected)
        # The connected one (published after) is polled: the scheduler has seen both.
        await canonical_of(
            infra.bootstrap_servers, connected.installation_id, lambda r: len(r) >= 3
        )

        response = await http.get(
            f"{stack.url}/v1/installations/{never.installation_id}/streams", headers=headers
        )
        streams = response.json().get("streams", []) if response.status_code == 200 else []
    reports = stack.reports
    assert [r for r in reports if r["installation_id"] == never.installation_id] == []
    assert all(s["state"] != "needs_reauth" and not s.get("last_run_at") for s in streams)
    mine = [r for r in reports if r["installation_id"] == connected.installation_id]
    assert mine and all(r["token_revision"] == 1 for r in mine)  # refreshed from revision 1
