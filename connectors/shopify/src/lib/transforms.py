"""Shopify Admin API resources → Backfill canonical records; each keeps `id` and `updated_at`."""

from __future__ import annotations

from typing import Any


def order(obj: dict[str, Any]) -> dict[str, Any]:
    customer = obj.get("customer") or {}
    return {
        "id": str(obj["id"]),
        "updated_at": obj.get("updated_at"),
        "created_at": obj.get("created_at"),
        "name": obj.get("name"),
        "email": obj.get("email"),
        "currency": obj.get("currency"),
        "total_price": obj.get("total_price"),
        "subtotal_price": obj.get("subtotal_price"),
        "total_tax": obj.get("total_tax"),
        "financial_status": obj.get("financial_status"),
        "fulfillment_status": obj.get("fulfillment_status"),
        "cancelled_at": obj.get("cancelled_at"),
        "customer_id": str(customer["id"]) if customer.get("id") else None,
        "line_items": [
            {
                "sku": item.get("sku"),
                "title": item.get("title"),
                "quantity": item.get("quantity"),
                "price": item.get("price"),
            }
            for item in obj.get("line_items") or []
        ],
    }


def product(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(obj["id"]),
        "updated_at": obj.get("updated_at"),
        "created_at": obj.get("created_at"),
        "title": obj.get("title"),
        "handle": obj.get("handle"),
        "vendor": obj.get("vendor"),
        "product_type": obj.get("product_type"),
        "status": obj.get("status"),
        "variants": [
            {"id": str(v["id"]), "sku": v.get("sku"), "price": v.get("price")}
            for v in obj.get("variants") or []
            if v.get("id") is not None
        ],
    }


def customer(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(obj["id"]),
        "updated_at": obj.get("updated_at"),
        "created_at": obj.get("created_at"),
        "email": obj.get("email"),
        "first_name": obj.get("first_name"),
        "last_name": obj.get("last_name"),
        "phone": obj.get("phone"),
        "orders_count": obj.get("orders_count"),
        "state": obj.get("state"),
    }


def deleted(obj: dict[str, Any]) -> dict[str, Any]:
    """`*/delete` topics carry only the id: a tombstone."""
    return {"id": str(obj["id"]), "deleted": True}
