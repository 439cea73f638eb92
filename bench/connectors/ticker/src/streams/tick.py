"""An empty page, at once: the run costs only the platform's own work."""

from sdk import Page


async def fetch(ctx, cursor):
    return Page(records=[], next_cursor=cursor or "0", has_more=False)
