"""Stripe objects → Backfill canonical records (one function per object type).

Every payload keeps Stripe's `id` and `created`, which key stream records; money stays in
the smallest currency unit, as Stripe sends it.
"""

from __future__ import annotations

from typing import Any


def _ref(value: Any) -> Any:
    """An expandable field: the id whether Stripe sent the id or the expanded object."""
    return value.get("id") if isinstance(value, dict) else value


def customer(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "email": obj.get("email"),
        "name": obj.get("name"),
        "phone": obj.get("phone"),
        "currency": obj.get("currency"),
        "deleted": bool(obj.get("deleted", False)),
        "livemode": obj.get("livemode"),
        "metadata": obj.get("metadata") or {},
    }


def charge(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "amount": obj.get("amount"),
        "amount_captured": obj.get("amount_captured"),
        "amount_refunded": obj.get("amount_refunded"),
        "currency": obj.get("currency"),
        "status": obj.get("status"),
        "paid": obj.get("paid"),
        "refunded": obj.get("refunded"),
        "customer_id": _ref(obj.get("customer")),
        "payment_intent_id": _ref(obj.get("payment_intent")),
        "invoice_id": _ref(obj.get("invoice")),
        "failure_code": obj.get("failure_code"),
        "failure_message": obj.get("failure_message"),
        "livemode": obj.get("livemode"),
    }


def invoice(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "number": obj.get("number"),
        "status": obj.get("status"),
        "currency": obj.get("currency"),
        "amount_due": obj.get("amount_due"),
        "amount_paid": obj.get("amount_paid"),
        "amount_remaining": obj.get("amount_remaining"),
        "total": obj.get("total"),
        "customer_id": _ref(obj.get("customer")),
        "subscription_id": _ref(obj.get("subscription")),
        "due_date": obj.get("due_date"),
        "hosted_invoice_url": obj.get("hosted_invoice_url"),
        "livemode": obj.get("livemode"),
    }


def subscription(obj: dict[str, Any]) -> dict[str, Any]:
    items = (obj.get("items") or {}).get("data") or []
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "status": obj.get("status"),
        "customer_id": _ref(obj.get("customer")),
        "current_period_start": obj.get("current_period_start"),
        "current_period_end": obj.get("current_period_end"),
        "cancel_at_period_end": obj.get("cancel_at_period_end"),
        "canceled_at": obj.get("canceled_at"),
        "prices": [_ref(item.get("price")) for item in items],
        "livemode": obj.get("livemode"),
    }


def payment_intent(obj: dict[str, Any]) -> dict[str, Any]:
    error = obj.get("last_payment_error") or {}
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "amount": obj.get("amount"),
        "amount_received": obj.get("amount_received"),
        "currency": obj.get("currency"),
        "status": obj.get("status"),
        "customer_id": _ref(obj.get("customer")),
        "latest_charge_id": _ref(obj.get("latest_charge")),
        "failure_code": error.get("code"),
        "livemode": obj.get("livemode"),
    }


def refund(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "created": obj.get("created"),
        "amount": obj.get("amount"),
        "currency": obj.get("currency"),
        "status": obj.get("status"),
        "reason": obj.get("reason"),
        "charge_id": _ref(obj.get("charge")),
        "payment_intent_id": _ref(obj.get("payment_intent")),
    }
