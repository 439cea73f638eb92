"""Each attack runs as asked and returns what it got: an escape would show in the response."""

from sdk import api

from ...attacks import ATTACKS


async def handle(request):
    body = request.body or {}
    return api.json({"got": ATTACKS[body["attack"]](body)})


POST = api(handle)
