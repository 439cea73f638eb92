"""`backfill run NAME --dev`: a dev draft's stream runs once on demand against the provider
(a local Stripe-like list API); its records are intercepted and shown with the cursor, and
nothing is committed (no canonical record, no stored cursor, no run in the status)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from cli.embedded import free_port
from contracts.ids import new_id
from services.sync.app import create_app
from tests.cli.conftest import run
from tests.harness import eventually, serving
from tests.sync.conftest import put_snapshot, revised, sync_settings, token_for
from tests.sync.providers import PagedProvider
from tests.sync.test_runs import stripe_install


async def test_a_dev_draft_stream_runs_once_with_nothing_committed(
    infra, http, redis, keyring, producer, tmp_path: Path
):
    provider = PagedProvider(key=new_id("sk_test"), customers=150)
    snap = await stripe_install(redis, keyring, provider)
    session = new_id("ses")
    # A pending installation (the developer's, not set up yet): the scheduler never polls it.
    snap = msgspec.structs.replace(
        snap, state="pending", draft=snap.active, draft_session_id=session
    )
    admin = (await token_for(redis, snap.workspace_id))["authorization"].removeprefix("Bearer ")
    headers = {"authorization": f"Bearer {admin}"}
    config = tmp_path / "config"
    session_file = config / "backfill" / "dev" / "stripe.json"
    session_file.parent.mkdir(parents=True)
    session_file.write_text(
        json.dumps({"installation_id": snap.installation_id, "session_id": session})
    )
    project = tmp_path / "stripe"
    project.mkdir()
    (project / "manifest.json").write_text(json.dumps({"key": "stripe"}))
    async with serving(provider.app()) as url:
        async with serving(create_app(sync_settings(url), infra.settings())) as sync:
            await put_snapshot(producer, snap)
            env = {
                "BACKFILL_SYNC_URL": sync,
                "BACKFILL_TOKEN": admin,
                "BACKFILL_REGISTRY_URL": f"http://127.0.0.1:{free_port()}",
                "XDG_CONFIG_HOME": str(config),
                "COLUMNS": "200",
            }
            code, out, err = await run(
                "run",
                "customers",
                "--dev",
                "--dir",
                str(project),
                "--pages",
                "2",
                "--json",
                env=env,
            )
            assert code == 0, err
            result = json.loads(out)
            assert result["kind"] == "stream" and result["version_id"] == snap.draft.version_id
            first, second = result["pages"]
            assert first["cursor"] is None and first["has_more"] is True
            assert second["cursor"] == first["next_cursor"] and second["has_more"] is False
            records = [r for page in result["pages"] for r in page["records"]]
            assert len(records) == 150 and {r["canonical_type"] for r in records} == {"customer"}

            code, out, _ = await run("run", "customers", "--dev", "--dir", str(project), env=env)
            assert code == 0 and "WOULD-WRITE customer" in out and "→" in out

            # Nothing committed: no cursor history, no run in the stream status.
            history = await http.get(
                f"{sync}/v1/installations/{snap.installation_id}/streams/customers/cursors",
                headers=headers,
            )
            assert history.status_code in (200, 404)
            assert history.status_code == 404 or history.json()["entries"] == []

            # Another session's id is refused; an unknown stream is 404.
            other = await http.post(
                f"{sync}/v1/installations/{snap.installation_id}/streams/customers/dry-run",
                json={"session": new_id("ses")},
                headers=headers,
            )
            assert other.status_code == 409 and other.json()["error"]["field"] == "session"
            missing = await http.post(
                f"{sync}/v1/installations/{snap.installation_id}/streams/nope/dry-run",
                json={"session": session},
                headers=headers,
            )
            assert missing.status_code == 404

            # A draft deployed without a session (`deploy --draft`) is no session's: an
            # empty session id does not reach it.
            dry_run = f"{sync}/v1/installations/{snap.installation_id}/streams/customers/dry-run"
            await put_snapshot(producer, revised(snap, draft_session_id=None))
            await eventually(  # the marker: the old session is refused once sync read it
                lambda: http.post(dry_run, json={"session": session}, headers=headers),
                lambda answer: answer.status_code == 409,
            )
            empty = await http.post(dry_run, json={"session": ""}, headers=headers)
            assert empty.status_code == 409 and empty.json()["error"]["field"] == "session"
