"""Shopify customers through the Admin API (`/customers.json`)."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "customers", transforms.customer)
