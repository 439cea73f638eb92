"""`GET /deals?stage=...`: the pipeline as JSON, for the workspace's own tools (API key)."""

from sdk import api

from ...deals import PIPELINE

config = {"auth": "api_key"}


@api
def GET(request):
    stage = request.query.get("stage")
    return {"deals": [d for d in PIPELINE if stage in (None, d["stage"])]}
