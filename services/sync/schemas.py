"""HTTP shapes of the sync service's internal API."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.installations import InstallationSnapshot, VersionRef


class ConnectionTestRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Run a connector's `test_connection` with unsaved settings and plaintext secrets."""

    installation: InstallationSnapshot
    version: VersionRef
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}


class ConnectionVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """Whether the credentials work, and a message for the admin."""

    ok: bool
    message: str
