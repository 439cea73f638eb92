"""Settings of the console service, read from `CONSOLE_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "CONSOLE_"


class ConsoleSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8000
    registry_url: str = "http://127.0.0.1:8001"
    ingress_url: str = "http://127.0.0.1:8002"
    sync_url: str = "http://127.0.0.1:8003"
    logs_url: str = "http://127.0.0.1:8004"
    # 64 hex characters (32 bytes): the AES-GCM key of the session cookie. Empty: a random key
    # per process, so every sign-in ends when the console restarts.
    session_secret: str = ""
    # Mark the session and CSRF cookies Secure (set when the console is served over HTTPS).
    secure_cookies: bool = False
    # Sessions end after this long (the API token itself stays valid until revoked).
    session_max_age_s: int = 12 * 3600
    # Bound of one downstream API call: a slow service becomes a banner, not a hung page.
    request_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.session_secret:
            try:
                key = bytes.fromhex(self.session_secret)
            except ValueError:
                key = b""
            if len(key) != 32:
                raise msgspec.ValidationError(
                    "must be 64 hex characters (32 bytes) - at `$.session_secret`"
                )

    def session_key(self) -> bytes:
        """The cookie encryption key (random per process when none is configured)."""
        import secrets

        return (
            bytes.fromhex(self.session_secret) if self.session_secret else secrets.token_bytes(32)
        )
