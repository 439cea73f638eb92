"""Stripe invoices through `GET /v1/invoices`."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "/v1/invoices", transforms.invoice)
