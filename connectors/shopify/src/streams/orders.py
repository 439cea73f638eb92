"""Shopify orders through the Admin API (`/orders.json`)."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "orders", transforms.order)
