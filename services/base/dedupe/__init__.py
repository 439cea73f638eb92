"""One canonical record per idempotency key, whether it came by webhook, by poll, or both.

Ingress and sync dedupe through the *same* Redis keys (`{i:<installation_id>}:dedupe:<key>`,
hash-tagged per installation), so a record a webhook delivered and a poll later finds again is
published once. The states (pending → done, or → uncertain after a publish timed out) and
their guarantees are in `deduplicator.py`.

Callers do not use these pieces one by one: `once.PublishOnce` is the one path that claims
the keys, publishes the records (and ingress' raw delivery), and confirms or settles, for
ingress and sync alike::

    once = PublishOnce(
        Deduplicator(
            PageDedupeStore(redis),                 # or a DedupeStore sharing its tick pipeline
            ttl_s=7 * 86400,                        # ≥ the providers' retry horizon
            pending_s=30.0,                         # > the producer's request timeout
            wait_s=producer_timeout_s + 2,          # how long a duplicate waits for a claimant
            verify=RecordLedger(bootstrap_servers, producer_timeout_s * 2).contains,
        ),
        lambda: producer,
        timeout_s=producer_timeout_s,
    )
    published = await once.publish(origin, emissions, page_or_delivery_id)  # or 503 / no cursor
    await once.confirm(published)                   # a failure here only leaves claims to expire

`token` names the claimant (a delivery id, a page id): a retry with the same token reclaims its
own pending keys. `verify(installation_id, idempotency_key, since_ms)` is what resolves an
*uncertain* key: `RecordLedger.contains` scans the installation's partition of
`ingest.canonical.v1` from `since_ms`, so records must be keyed by installation id (as the
topic declares). `published.duplicates` lists the idempotency keys already written: report
them as `duplicate`.
"""

from services.base.dedupe.deduplicator import UNCERTAIN, Claims, Deduplicator, Verify
from services.base.dedupe.ledger import RecordLedger
from services.base.dedupe.store import COMPARE_AND_DELETE, DONE, DedupeStore, tag
from services.base.dedupe.tick import DEFER_S, Queue, TickPipeline, checked

__all__ = [
    "COMPARE_AND_DELETE",
    "DEFER_S",
    "DONE",
    "UNCERTAIN",
    "Claims",
    "DedupeStore",
    "Deduplicator",
    "Queue",
    "RecordLedger",
    "TickPipeline",
    "Verify",
    "checked",
    "tag",
]
