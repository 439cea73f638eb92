"""before_save on deals: refuse what a person must fix, normalise what the platform can."""

from sdk import Log, ValidationError, ValidationErrors


def before_save(ctx, record, previous):
    """Refuse a deal without a name, with a negative amount or too large a discount."""
    errors = []
    if not str(record.get("name") or "").strip():
        errors.append(ValidationError("name", "A deal needs a name"))
    amount = record.get("amount")
    if not isinstance(amount, int | float) or amount < 0:
        errors.append(ValidationError("amount", "The amount must be a number, zero or more"))
    discount = record.get("discount") or 0
    if discount > ctx.settings["max_discount"]:
        limit = ctx.settings["max_discount"]
        errors.append(ValidationError("discount", f"Discounts above {limit:g}% need approval"))
    if errors:
        raise ValidationErrors(errors)
    changes = {}
    if record.get("currency") is None:
        changes["currency"] = "USD"
    elif record["currency"] != record["currency"].upper():
        changes["currency"] = record["currency"].upper()
    if changes:
        Log.info("normalised the deal", fields=sorted(changes), deal=ctx.entity_id)
    return changes
