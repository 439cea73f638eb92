"""The topic registry: every topic declared once, with its schema, key, policy and owners.

No other module spells a topic name. Producers call `await topic.send(producer, message)`
(it encodes, keys and hands the message to the producer, and returns the broker's
acknowledgement to await); consumers call `topic.decode(raw)`. `TOPICS` is what `backfill up`,
the docker-compose init step and the tests create and check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from contracts.audit import AuditEvent
from contracts.deadletter import DeadLetter
from contracts.deliveries import DeliveryReceived
from contracts.entities import EntityChange
from contracts.health import WebhookHealthWindow
from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine
from contracts.records import CanonicalRecord, ObservedRecord
from contracts.secret_reads import SecretRead
from contracts.streams import StreamStatus

M = TypeVar("M", bound=msgspec.Struct)
EXAMPLES = Path(__file__).parent / "examples"
DAY_MS = 24 * 3600 * 1000


class Producer(Protocol):
    """What `Topic.send` needs of a Kafka producer (aiokafka's `AIOKafkaProducer`)."""

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> asyncio.Future[Any]: ...


@dataclass(frozen=True, eq=False)
class Topic(Generic[M]):
    """One topic: a versioned name and the only codec for its messages."""

    name: str
    message: type[M]
    key: str
    key_of: Callable[[Any], str]
    partitions: int
    cleanup_policy: str
    retention_ms: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str
    extra_config: dict[str, str] = field(default_factory=dict)

    @cached_property
    def _decoder(self) -> msgspec.json.Decoder[M]:
        return msgspec.json.Decoder(self.message)

    def encode(self, message: M) -> bytes:
        """Serialize a message of this topic's type to JSON."""
        if not isinstance(message, self.message):
            raise TypeError(f"{self.name} carries {self.message.__name__}, not {type(message)}")
        return msgspec.json.encode(message)

    def decode(self, raw: bytes) -> M:
        """Parse and validate; raises msgspec.DecodeError / ValidationError on a bad message."""
        return self._decoder.decode(raw)

    def encode_key(self, message: M) -> bytes:
        """The partitioning key of a message, as bytes."""
        return self.key_of(message).encode()

    async def send(self, producer: Producer, message: M) -> asyncio.Future[Any]:
        """Hand one message to `producer`, keyed; returns its acknowledgement to await.

        The message joins the producer's current batch: awaiting the returned future waits
        for the broker (acks=all on the suite's producers), so a caller can send many and
        await their acknowledgements together.
        """
        return await producer.send(self.name, self.encode(message), key=self.encode_key(message))

    @property
    def example_path(self) -> Path:
        """The main example payload (every field set); every test decodes it."""
        return EXAMPLES / f"{self.name}.json"

    @property
    def examples(self) -> list[Path]:
        """Every example payload: the main one, then `examples/<topic>/*.json` (sorted)."""
        more = EXAMPLES / self.name
        return [self.example_path, *sorted(more.glob("*.json"))]

    def config(self) -> dict[str, str]:
        """Topic-level configs for creation (cleanup policy, retention, extras)."""
        configs = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        if self.retention_ms:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


INSTALLATION_SNAPSHOTS: Topic[InstallationSnapshot] = Topic(
    name="registry.installations.v1",
    message=InstallationSnapshot,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=6,
    cleanup_policy="compact",
    retention_ms=0,
    producers=("registry",),
    consumers=("ingress", "sync", "logs"),
    description="Latest full view of every installation, one revision per change; compacted.",
    extra_config={"min.compaction.lag.ms": "0"},
)

AUDIT_EVENTS: Topic[AuditEvent] = Topic(
    name="registry.audit.v1",
    message=AuditEvent,
    key="workspace_id",
    key_of=lambda m: m.workspace_id,
    partitions=3,
    cleanup_policy="delete",
    retention_ms=365 * DAY_MS,
    producers=("registry", "sync"),
    consumers=("logs",),
    description="Who did what to which workspace resource, and when.",
)

WEBHOOK_DELIVERIES: Topic[DeliveryReceived] = Topic(
    name="ingress.deliveries.v1",
    message=DeliveryReceived,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=6,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    producers=("ingress",),
    consumers=("ingress",),
    description="Every webhook delivery as received: raw body when verified, hash when rejected.",
)

CANONICAL_RECORDS: Topic[CanonicalRecord] = Topic(
    name="ingest.canonical.v1",
    message=CanonicalRecord,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=6,
    cleanup_policy="delete",
    retention_ms=14 * DAY_MS,
    producers=("ingress", "sync"),
    consumers=("backfill-core", "logs"),
    description="Records in Backfill's canonical model; exactly one per idempotency key.",
)

OBSERVED_RECORDS: Topic[ObservedRecord] = Topic(
    name="ingest.observed.v1",
    message=ObservedRecord,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=3,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    producers=("ingress", "sync"),
    consumers=("logs",),
    description="Would-be records of observation and draft versions; never applied.",
)

EXTENSION_LOGS: Topic[ExtensionLogLine] = Topic(
    name="extensions.logs.v1",
    message=ExtensionLogLine,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=6,
    cleanup_policy="delete",
    retention_ms=14 * DAY_MS,
    producers=("ingress", "sync"),
    consumers=("logs",),
    description="Every Log call, permission denial and error of extension scripts.",
)

STREAM_STATUS: Topic[StreamStatus] = Topic(
    name="sync.stream-status.v1",
    message=StreamStatus,
    key="installation_id:stream",
    key_of=lambda m: f"{m.installation_id}:{m.stream}",
    partitions=3,
    cleanup_policy="compact",
    retention_ms=0,
    producers=("sync",),
    consumers=("logs",),
    description=(
        "Latest status per polled stream: cursor, last success, counts, errors. Coalesced: "
        "at most one message per stream per second, a short run publishes only its end, and "
        "the latest status always arrives."
    ),
)

WEBHOOK_HEALTH: Topic[WebhookHealthWindow] = Topic(
    name="ingress.webhook-health.v1",
    message=WebhookHealthWindow,
    key="installation_id",
    key_of=lambda m: m.installation_id,
    partitions=3,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    producers=("ingress",),
    consumers=("logs",),
    description="Per installation and flush window: deliveries ingress answered 2xx/4xx/5xx.",
)

SECRET_READS: Topic[SecretRead] = Topic(
    name="runtime.secret-reads.v1",
    message=SecretRead,
    key="installation_id:version_id:script_name:secret_name",
    key_of=lambda m: f"{m.installation_id}:{m.version_id}:{m.script_name}:{m.secret_name}",
    partitions=3,
    cleanup_policy="compact",
    retention_ms=0,
    producers=("ingress", "sync"),
    consumers=("logs",),
    description="Which script of which version read which secret name (never the value).",
    extra_config={"min.compaction.lag.ms": "0"},
)

ENTITY_CHANGES: Topic[EntityChange] = Topic(
    name="entities.changes.v1",
    message=EntityChange,
    key="workspace_id:entity_id",
    key_of=lambda m: f"{m.workspace_id}:{m.entity_id}",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    producers=("backfill-core",),
    consumers=("sync",),
    description="Entity writes the core committed, before and after: after_* hooks run on them.",
)

DEAD_LETTERS: Topic[DeadLetter] = Topic(
    name="platform.dead-letters.v1",
    message=DeadLetter,
    key="source_topic",
    key_of=lambda m: m.source_topic,
    partitions=1,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    producers=("sync", "logs"),  # every service consuming through a group (infra.subscribe)
    consumers=("operators",),
    description="Messages a consumer could not decode or declared invalid, with their origin.",
)

TOPICS: tuple[Topic[Any], ...] = (
    INSTALLATION_SNAPSHOTS,
    AUDIT_EVENTS,
    WEBHOOK_DELIVERIES,
    CANONICAL_RECORDS,
    OBSERVED_RECORDS,
    EXTENSION_LOGS,
    STREAM_STATUS,
    WEBHOOK_HEALTH,
    SECRET_READS,
    ENTITY_CHANGES,
    DEAD_LETTERS,
)
BY_NAME: dict[str, Topic[Any]] = {t.name: t for t in TOPICS}
