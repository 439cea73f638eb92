"""GitHub's signed webhook endpoint (`X-Hub-Signature-256` verified by the platform)."""

from sdk import api, handle_event

from ...lib.catalog import GITHUB_EVENT_CATALOG, KNOWN_IGNORED_EVENT_TYPES

config = {"auth": "github_sha256"}


def receive(request):
    event = request.body
    if not isinstance(event, dict):
        return api.json({"error": "body is not a GitHub event payload"}, status=400)
    return handle_event(
        provider="github",
        catalog=GITHUB_EVENT_CATALOG,
        ignored=KNOWN_IGNORED_EVENT_TYPES,
        # One delivery GUID per delivery, kept when GitHub (or an admin) redelivers it.
        event_id=request.headers.get("x-github-delivery"),
        event_type=request.headers.get("x-github-event"),
        event=event,
        obj=event,
    )


POST = api(receive)
