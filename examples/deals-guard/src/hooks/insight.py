"""after_save on deals: score each saved deal and write a `deal_insight` record."""

from sdk import Log, ingest


def tier_of(amount):
    """The size class of a deal."""
    if amount >= 100_000:
        return "enterprise"
    if amount >= 10_000:
        return "mid-market"
    return "smb"


def after_save(ctx, record, previous):
    """One insight per saved deal (the platform keys it by change: a retry writes it once)."""
    amount = record.get("amount") or 0
    tier = tier_of(amount)
    ingest.canonical(
        "deal_insight",
        {"deal_id": ctx.entity_id, "tier": tier, "amount": amount},
        idempotency_key=f"insight:{ctx.entity_id}",
    )
    if previous and tier_of(previous.get("amount") or 0) != tier:
        Log.info("deal changed tier", deal=ctx.entity_id, tier=tier)
