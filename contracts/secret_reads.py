"""Secret reads: which script of which version opened which secret name; never the value."""

from __future__ import annotations

from contracts.base import Message


class SecretRead(Message, frozen=True, kw_only=True):
    """One (installation, version, script, secret name) seen reading, with when it last did.

    Compacted by that identity, so the topic holds the latest read of each; the runtime
    publishes a read at most once per interval per identity, not once per call. An admin can
    see that a new version started reading a secret the old one never read.
    """

    workspace_id: str
    installation_id: str
    extension_key: str
    version_id: str
    mode: str = "active"
    script_name: str
    secret_name: str
    first_read_at: float
    last_read_at: float
    reads: int = 1
