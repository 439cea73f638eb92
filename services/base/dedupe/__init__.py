"""One canonical record per idempotency key, whether it came by webhook, by poll, or both.

Ingress and sync dedupe through the *same* Redis keys (`{i:<installation_id>}:dedupe:<key>`,
hash-tagged per installation), so a record a webhook delivered and a poll later finds again is
published once. The states (pending → done, or → uncertain after a publish timed out) and
their guarantees are in `deduplicator.py`.

How a caller other than ingress uses it (sync writing a page of records, say)::

    store = DedupeStore(redis)                      # or a subclass sharing its tick pipeline
    dedupe = Deduplicator(
        store,
        ttl_s=7 * 86400,                            # ≥ the providers' retry horizon
        pending_s=30.0,                             # > the producer's request timeout
        wait_s=producer_timeout_s + 2,              # how long a duplicate waits for a claimant
        verify=RecordLedger(bootstrap_servers, producer_timeout_s * 2).contains,
    )
    keys = [store.dedupe_key(installation_id, r.idempotency_key) for r in records]
    claims = await dedupe.claim(keys, token=page_id)  # raises DependencyUnavailable
    mine = set(claims.mine)                            # publish only these; the rest are dupes
    new = [r for k, r in zip(keys, records) if k in mine]  (first occurrence of each key)
    sent_at_ms = int(time.time() * 1000) - 1000      # margin for producer-side timestamps
    try:
        await publish_and_await_acks(new)             # acks=all
    except TimeoutOrBrokerError as error:
        if acks_still_pending:                       # timeout is not failure
            spawn(dedupe.settle(claims, acks_still_pending, sent_at_ms))
        else:
            await dedupe.release(claims)
        raise                                          # do not commit the offset / the cursor
    await dedupe.confirm(claims)                       # done; a failure here only expires

`token` names the claimant (a delivery id, a page id): a retry with the same token reclaims its
own pending keys. `verify(installation_id, idempotency_key, since_ms)` is what resolves an
*uncertain* key: `RecordLedger.contains` scans the installation's partition of
`ingest.canonical.v1` from `since_ms`, so records must be keyed by installation id (as the
topic declares). `claims.duplicates` lists the keys already done: report them as `duplicate`.
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
