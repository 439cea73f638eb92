"""Every operation documents the error answers it can give, in the one error shape."""

from __future__ import annotations

import httpx

from services.logs.app import create_app
from services.logs.settings import LogsSettings
from tests.harness import Infra, logs_store_dir, serving


async def test_error_answers_are_documented_in_the_error_shape(
    infra: Infra, http: httpx.AsyncClient
) -> None:
    # chDB opens one store directory per process: this test process' shared one
    settings = LogsSettings(port=0, group_id="logs-openapi-doc", data_dir=logs_store_dir())
    async with serving(create_app(settings, infra.settings())) as url:
        document = (await http.get(f"{url}/schema/openapi.json")).json()

    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert operations
    for path, method, operation in operations:
        responses = operation["responses"]
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        expected = {"400", "503"}
        if path.startswith("/v1/"):  # every logs route takes the token
            expected |= {"401", "403"}
            assert operation["security"] == [{"bearer": []}], (path, method)
        if "{" in path:
            expected |= {"404", "409"}
        assert expected <= set(responses), (path, method, sorted(responses))
