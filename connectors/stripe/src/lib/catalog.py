"""Which Stripe event types become which canonical records; which are ignored on purpose."""

from __future__ import annotations

from sdk import Canonical, CatalogEntry, one_record

from . import transforms


def _charge_with_refunds(event, obj):
    """A refunded charge is also the refunds it carries (one record each)."""
    records = [Canonical("charge", transforms.charge(obj), stream="charges")]
    for item in (obj.get("refunds") or {}).get("data") or []:
        records.append(Canonical("refund", transforms.refund(item), stream="refunds"))
    return records


CUSTOMER = one_record("customer", transforms.customer, "customers")
CHARGE = one_record("charge", transforms.charge, "charges")
INVOICE = one_record("invoice", transforms.invoice, "invoices")
SUBSCRIPTION = one_record("subscription", transforms.subscription, "subscriptions")
PAYMENT_INTENT = one_record("payment_intent", transforms.payment_intent, "payment_intents")
REFUND = one_record("refund", transforms.refund, "refunds")

STRIPE_EVENT_CATALOG = {
    "customer.created": CUSTOMER,
    "customer.updated": CUSTOMER,
    "customer.deleted": CUSTOMER,
    "charge.succeeded": CHARGE,
    "charge.failed": CHARGE,
    "charge.captured": CHARGE,
    "charge.updated": CHARGE,
    "charge.refunded": CatalogEntry(_charge_with_refunds, "the charge and each of its refunds"),
    "invoice.created": INVOICE,
    "invoice.finalized": INVOICE,
    "invoice.updated": INVOICE,
    "invoice.paid": INVOICE,
    "invoice.payment_failed": INVOICE,
    "invoice.voided": INVOICE,
    "invoice.marked_uncollectible": INVOICE,
    "customer.subscription.created": SUBSCRIPTION,
    "customer.subscription.updated": SUBSCRIPTION,
    "customer.subscription.deleted": SUBSCRIPTION,
    "customer.subscription.paused": SUBSCRIPTION,
    "customer.subscription.resumed": SUBSCRIPTION,
    "payment_intent.created": PAYMENT_INTENT,
    "payment_intent.succeeded": PAYMENT_INTENT,
    "payment_intent.payment_failed": PAYMENT_INTENT,
    "payment_intent.canceled": PAYMENT_INTENT,
    "payment_intent.processing": PAYMENT_INTENT,
    "refund.created": REFUND,
    "refund.updated": REFUND,
    "refund.failed": REFUND,
    "charge.refund.updated": REFUND,
}

# Delivered to many endpoints but deliberately not ingested: acknowledged with 202 `known`.
KNOWN_IGNORED_EVENT_TYPES = (
    "account.updated",
    "balance.available",
    "payout.created",
    "payout.paid",
    "payout.failed",
    "application_fee.created",
    "customer.source.created",
    "customer.discount.created",
    "invoiceitem.created",
    "invoice.upcoming",
    "payment_method.attached",
    "setup_intent.created",
    "setup_intent.succeeded",
    "price.created",
    "product.created",
    "checkout.session.completed",
)
