"""Two versions of one extension coexist in one runtime; each invocation runs its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec

from tests.runtime.conftest import make_runtime
from tests.runtime.factories import BUNDLES, deploy_directory, installation, webhook


async def test_each_invocation_runs_the_version_it_was_pinned_to(
    infra, redis, keyring, producer, tmp_path: Path
):
    runtime = make_runtime(redis, keyring, producer)
    old = await deploy_directory(redis, BUNDLES / "probe")
    changed = tmp_path / "probe"
    shutil.copytree(BUNDLES / "probe", changed)
    actions = changed / "src" / "lib" / "actions.py"
    actions.write_text(actions.read_text().replace('{"action": action}', '{"v2": action}'))
    new = await deploy_directory(redis, changed)
    assert old.digest != new.digest
    snapshot = installation(old)
    ping = msgspec.json.encode({"action": "ping"})
    first = await runtime.invoke(webhook(snapshot, ping, version=old))
    second = await runtime.invoke(webhook(snapshot, ping, version=new))
    again = await runtime.invoke(webhook(snapshot, ping, version=old))
    bodies = [r.response.body for r in (first, second, again) if r.response]
    assert bodies == [{"action": "ping"}, {"v2": "ping"}, {"action": "ping"}]
    await runtime.close()
