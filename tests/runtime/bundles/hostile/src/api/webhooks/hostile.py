"""Each attack runs as asked and returns what it got: an escape would show in the response."""

import inspect

from sdk import api

from ...attacks import ATTACKS


async def handle(request):
    body = request.body or {}
    got = ATTACKS[body["attack"]](body)
    if inspect.isawaitable(got):
        got = await got
    return api.json({"got": got})


POST = api(handle)
