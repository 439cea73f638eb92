"""Settings of the ingress service, read from `INGRESS_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "INGRESS_"


class IngressSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8002
    group_id: str = "ingress"
