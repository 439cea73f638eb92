"""`GET /health`: public, for uptime checks."""

from sdk import api

config = {"auth": "public"}


@api
def GET(request):
    return {"ok": True}
