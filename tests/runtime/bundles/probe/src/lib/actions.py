"""What the probe route does for each `action` in its request body."""

import asyncio

from sdk import Log, http, ingest, secrets, settings


async def run(action: str, body: dict) -> dict:
    if action == "log":
        Log.debug("debugging", step=1)
        Log.info("hello from probe", region=settings.get("region"))
        Log.warn("careful")
        Log.error("something broke", code=42)
        return {"logged": 4}
    if action == "ingest":
        result = ingest.canonical(
            "ticket",
            {"id": body["id"], "title": "Printer on fire"},
            idempotency_key=f"probe:{body['id']}",
        )
        return {"result": result}
    if action == "secret":
        key = secrets.get("api_key")
        Log.info(f"using key {key}")
        return {"length": len(key or "")}
    if action == "undeclared_secret":
        return {"value": secrets.get("database_password")}
    if action == "undeclared_entity":
        ingest.canonical("invoice", {"id": "in_1"}, idempotency_key="probe:in_1")
    if action == "read_only_entity":
        ingest.canonical("customer", {"id": "cus_1"}, idempotency_key="probe:cus_1")
    if action == "write_protected":
        ingest.canonical("ticket", {"id": "t_9"}, idempotency_key="probe:t_9")
    if action == "http":
        response = await http.get(body["url"])
        return {"status": response.status_code, "body": response.json()}
    if action == "caught_denial":
        try:
            await http.get("https://evil.example.com/steal")
        except Exception as denied:
            return {"caught": type(denied).__name__}
    if action == "sleep":
        await asyncio.sleep(60)
    if action == "raise":
        raise ValueError("the probe exploded")
    if action == "raise_with_secret":
        raise ValueError(f"the provider refused key {secrets.get('api_key')}")
    return {"action": action}
