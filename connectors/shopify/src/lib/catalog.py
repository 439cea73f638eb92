"""Which Shopify webhook topics become which canonical records; which are ignored on purpose."""

from __future__ import annotations

from sdk import Canonical, CatalogEntry

from . import transforms


def _one(canonical_type, transform, stream):
    return CatalogEntry(
        transform=lambda event, obj: [Canonical(canonical_type, transform(obj), stream=stream)],
        description=f"one {canonical_type} record",
    )


ORDER = _one("order", transforms.order, "orders")
PRODUCT = _one("product", transforms.product, "products")
CUSTOMER = _one("customer", transforms.customer, "customers")

SHOPIFY_EVENT_CATALOG = {
    "orders/create": ORDER,
    "orders/updated": ORDER,
    "orders/paid": ORDER,
    "orders/cancelled": ORDER,
    "orders/fulfilled": ORDER,
    "orders/partially_fulfilled": ORDER,
    "orders/delete": _one("order", transforms.deleted, "orders"),
    "products/create": PRODUCT,
    "products/update": PRODUCT,
    "products/delete": _one("product", transforms.deleted, "products"),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/enable": CUSTOMER,
    "customers/disable": CUSTOMER,
    "customers/delete": _one("customer", transforms.deleted, "customers"),
}

KNOWN_IGNORED_EVENT_TYPES = (
    "app/uninstalled",
    "shop/update",
    "carts/create",
    "carts/update",
    "checkouts/create",
    "checkouts/update",
    "inventory_levels/update",
    "inventory_items/update",
    "fulfillments/create",
    "refunds/create",
    "themes/publish",
)
