"""Pull requests of the repository, oldest change first."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    return await fetch_list(
        ctx,
        cursor,
        "pulls",
        {"state": "all", "sort": "updated", "direction": "asc"},
        transforms.pull_request,
    )
