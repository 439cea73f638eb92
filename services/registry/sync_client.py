"""The sync service's internal test-connection endpoint: the registry never runs connector code.

The request carries plaintext credentials, so it is authenticated with the internal service
token and its body is never logged. An unreachable or failing sync service is a 503: the
caller retries, and no credential is saved meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec

from contracts.installations import InstallationSnapshot, VersionRef
from services.base.errors import Unavailable
from services.registry.schemas import ConnectionTest

log = logging.getLogger(__name__)


class SyncClient:
    """Asks the sync service to run a connector's `testConnection` with given credentials."""

    def __init__(self, base_url: str, internal_token: str, timeout_s: float) -> None:
        self.url = base_url.rstrip("/") + "/internal/test-connection"
        self.headers = {
            "authorization": f"Bearer {internal_token}",
            "content-type": "application/json",
        }
        self.timeout_s = timeout_s

    async def test_connection(
        self,
        snapshot: InstallationSnapshot,
        version: VersionRef,
        settings: dict[str, Any],
        secrets: dict[str, str],
    ) -> ConnectionTest:
        """The connector's verdict; Unavailable when sync cannot be asked."""
        body = msgspec.json.encode(
            {"installation": snapshot, "version": version, "settings": settings, "secrets": secrets}
        )
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(self.url, content=body, headers=self.headers)
        except httpx.HTTPError as error:
            log.warning(
                "sync unreachable for test-connection", extra={"error": type(error).__name__}
            )
            raise Unavailable("the sync service is unreachable; nothing was saved, retry") from None
        if response.status_code != 200:
            log.warning("sync refused test-connection", extra={"status": response.status_code})
            raise Unavailable(
                f"the sync service answered {response.status_code}; nothing was saved, retry"
            )
        try:
            return msgspec.json.decode(response.content, type=ConnectionTest)
        except msgspec.MsgspecError:
            raise Unavailable("the sync service answered an unreadable verdict; retry") from None
