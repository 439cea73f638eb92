"""The Standard Webhooks endpoint: `webhook-id` names the message, the body's `type` the event."""

from sdk import api, handle_event, settings

from ...lib.mapping import catalog_for, parse_mapping

config = {"auth": "standard_webhooks"}


def receive(request):
    event = request.body
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return api.json({"error": "body must be an object with type and data"}, status=400)
    event_type = event.get("type")
    mapping = parse_mapping(settings.get("event_mapping"))
    catalog = catalog_for(mapping, event_type or "", bool(settings.get("ingest_unmapped")))
    return handle_event(
        provider="standard-webhooks",
        catalog=catalog,
        ignored=(),
        # `webhook-id` is the same on every retry of one message: the dedupe key.
        event_id=request.headers.get("webhook-id"),
        event_type=event_type,
        event=event,
        obj=event["data"],
    )


POST = api(receive)
