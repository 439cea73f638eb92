"""Sleeps as long as asked, then answers: a tenant whose invocations hold a worker."""

import time

from sdk import api


async def handle(request):
    body = request.body or {}
    time.sleep(float(body.get("sleep_s", 0)))  # noqa: ASYNC251 (it holds its worker)
    return api.json({"slept": body.get("sleep_s", 0)})


POST = api(handle)
