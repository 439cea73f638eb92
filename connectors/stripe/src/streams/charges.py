"""Stripe charges through `GET /v1/charges`."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "/v1/charges", transforms.charge)
