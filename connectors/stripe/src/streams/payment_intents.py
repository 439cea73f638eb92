"""Stripe payment intents through `GET /v1/payment_intents`."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "/v1/payment_intents", transforms.payment_intent)
