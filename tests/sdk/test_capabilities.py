"""SDK capabilities exist only inside an invocation; `api.json` builds the runtime's response."""

from __future__ import annotations

import pytest

from runtime.interface import HttpResponse
from sdk import Log, api, ingest, secrets


def test_capabilities_outside_an_invocation_refuse_to_run():
    with pytest.raises(RuntimeError, match="inside a runtime invocation"):
        Log.info("nobody is listening")
    with pytest.raises(RuntimeError):
        secrets.get("api_key")
    with pytest.raises(RuntimeError):
        ingest.canonical("ticket", {"id": "t_1"}, idempotency_key="k")


def test_api_json_is_an_http_response_with_status():
    assert api.json({"ok": True}, status=202) == HttpResponse(status=202, body={"ok": True})
