"""Which Shopify webhook topics become which canonical records; which are ignored on purpose."""

from __future__ import annotations

from sdk import one_record

from . import transforms

ORDER = one_record("order", transforms.order, "orders")
PRODUCT = one_record("product", transforms.product, "products")
CUSTOMER = one_record("customer", transforms.customer, "customers")

SHOPIFY_EVENT_CATALOG = {
    "orders/create": ORDER,
    "orders/updated": ORDER,
    "orders/paid": ORDER,
    "orders/cancelled": ORDER,
    "orders/fulfilled": ORDER,
    "orders/partially_fulfilled": ORDER,
    "orders/delete": one_record("order", transforms.deleted, "orders"),
    "products/create": PRODUCT,
    "products/update": PRODUCT,
    "products/delete": one_record("product", transforms.deleted, "products"),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/enable": CUSTOMER,
    "customers/disable": CUSTOMER,
    "customers/delete": one_record("customer", transforms.deleted, "customers"),
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
