"""The secret-read audit: which script of which version read which secret name, never a value.

Every granted `secrets.get` is counted here by its identity (installation, version, script,
secret name). The first read of an identity is published at once; later reads are counted
and published again at most once per `interval_s` (on the next read after the interval), so
the topic (compacted by identity) shows when each was first and last seen and how often,
without one message per call. Counts are per process (each replica reports its own).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from contracts.installations import InstallationSnapshot
from contracts.secret_reads import SecretRead

Identity = tuple[str, str, str, str]
MAX_IDENTITIES = 100_000


@dataclass
class _Seen:
    read: SecretRead
    published_at: float | None = None


class SecretReadAudit:
    """Counts secret reads and hands out the ones due for publication."""

    def __init__(self, interval_s: float = 300.0) -> None:
        self.interval_s = interval_s
        self.seen: OrderedDict[Identity, _Seen] = OrderedDict()
        self.pending: dict[Identity, _Seen] = {}

    def saw(
        self,
        installation: InstallationSnapshot,
        *,
        version_id: str,
        mode: str,
        script_name: str,
        secret_name: str,
    ) -> None:
        """Count one granted read."""
        now = time.time()
        identity = (installation.installation_id, version_id, script_name, secret_name)
        seen = self.seen.get(identity)
        if seen is None:
            read = SecretRead(
                workspace_id=installation.workspace_id,
                installation_id=installation.installation_id,
                extension_key=installation.extension_key,
                version_id=version_id,
                mode=mode,
                script_name=script_name,
                secret_name=secret_name,
                first_read_at=now,
                last_read_at=now,
            )
            seen = self.seen[identity] = _Seen(read)
            while len(self.seen) > MAX_IDENTITIES:
                self.seen.popitem(last=False)
        else:
            old = seen.read
            seen.read = SecretRead(
                **{f: getattr(old, f) for f in old.__struct_fields__ if f not in _COUNTED},
                last_read_at=now,
                reads=old.reads + 1,
            )
            self.seen.move_to_end(identity)
        if seen.published_at is None or now - seen.published_at >= self.interval_s:
            self.pending[identity] = seen

    def due(self) -> list[SecretRead]:
        """The reads to publish now (each identity at most once per interval)."""
        if not self.pending:
            return []
        now = time.time()
        due = []
        for seen in self.pending.values():
            seen.published_at = now
            due.append(seen.read)
        self.pending.clear()
        return due


_COUNTED = {"last_read_at", "reads"}
