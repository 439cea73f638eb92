"""Shopify products through the Admin API (`/products.json`)."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "products", transforms.product)
