"""Issues of the repository, oldest change first (`since` = last sweep's latest update)."""

from ..lib import transforms
from ..lib.listing import fetch_list


async def fetch(ctx, cursor):
    # The issues endpoint also lists pull requests; those belong to the pull_requests stream.
    return await fetch_list(
        ctx,
        cursor,
        "issues",
        {"state": "all", "sort": "updated", "direction": "asc"},
        transforms.issue,
        keep=lambda obj: "pull_request" not in obj,
    )
