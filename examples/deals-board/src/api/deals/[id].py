"""`GET /deals/{id}`: one deal, 404 when unknown (API key)."""

from sdk import api

from ...deals import find

config = {"auth": "api_key"}


@api
def GET(request):
    deal = find(request.params["id"])
    if deal is None:
        return api.json({"error": f"no deal {request.params['id']}"}, status=404)
    return deal
