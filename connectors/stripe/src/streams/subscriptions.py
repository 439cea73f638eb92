"""Stripe subscriptions through `GET /v1/subscriptions`."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(ctx, cursor, "/v1/subscriptions", transforms.subscription)
