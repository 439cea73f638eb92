"""Settings of the ingress service, read from `INGRESS_*` environment variables."""

from __future__ import annotations

import msgspec

PREFIX = "INGRESS_"
DAY_S = 24 * 3600


class IngressSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented, failing fast; defaults work under `make run`."""

    host: str = "127.0.0.1"
    port: int = 8002
    # How long an idempotency key is remembered: at least the providers' retry horizon
    # (Stripe retries for 3 days, Shopify 2, GitHub never): 7 days, never less than one.
    dedupe_ttl_s: int = 7 * DAY_S
    # How long a claimed-but-unpublished key blocks its duplicates before it can be reclaimed
    # (covers a crash between claim and publish); must exceed the producer request timeout.
    dedupe_pending_s: float = 30.0
    # How long a delivery waits for the broker's ack before answering 503.
    producer_request_timeout_ms: int = 5_000
    # How long the producer holds a batch for more messages. 0: a delivery's raw body and
    # records leave at once (a provider waits for the acks); under load batches still fill
    # while the previous request is in flight (one per broker).
    producer_linger_ms: int = 0
    # Handler wall-clock limit (the runtime enforces it).
    handler_time_limit_s: float = 10.0
    # Replay timestamp tolerance of signatures is checked against arrival time, not now.
    signature_tolerance_s: int = 300
    # Delivery history kept per installation (newest first), and for how long.
    history_per_installation: int = 1_000
    history_ttl_s: int = 30 * 24 * 3600
    # Webhook health counters are flushed to Redis this often (shared by every replica).
    health_flush_s: float = 1.0
    # Upper bound of one replay-by-range request.
    replay_max_deliveries: int = 500
    # The core's before-write call answers within this, whatever its hooks' timeoutMs add up to.
    hooks_deadline_ms: int = 3_000
    # Shadow runs of observation and draft before_* hooks in flight at once (all writes of
    # this replica); past it a shadow run is skipped and the skip is logged, never queued.
    hooks_shadow_limit: int = 16
    # Extension API routes (`/ext/...`): calls per installation per window (0: no limit),
    # request and response body limits (the runtime's time limit, `handler_time_limit_s`,
    # bounds one route, page render or page action: 504 past it).
    route_rate_limit: int = 600
    route_rate_window_s: float = 60.0
    route_max_request_bytes: int = 1_048_576
    route_max_response_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if self.dedupe_ttl_s < DAY_S:
            raise msgspec.ValidationError("must be at least 86400 (a day) - at `$.dedupe_ttl_s`")
        if self.dedupe_pending_s * 1000 <= self.producer_request_timeout_ms:
            raise msgspec.ValidationError(
                "must exceed INGRESS_PRODUCER_REQUEST_TIMEOUT_MS - at `$.dedupe_pending_s`"
            )
