"""The probe's webhook route: runs the action named in the body."""

from sdk import api

from ...lib import actions

config = {"auth": "standard_webhooks"}


async def handle(request):
    body = request.body or {}
    return api.json(await actions.run(body.get("action", ""), body), status=202)


POST = api(handle)
