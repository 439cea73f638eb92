"""SSRF: without the development setting, alerts never go to private, loopback or link-local
addresses, nor over plain HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.logs.factories import new_workspace, running_logs


@pytest_asyncio.fixture(scope="module")
async def logs_url(infra, http) -> AsyncIterator[str]:
    """Production settings (the default): private targets refused."""
    async with running_logs(infra, http) as url:
        yield url


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://0.0.0.0/hook",
        "https://100.100.100.200/latest/meta-data",  # shared address space (a cloud metadata)
        "https://[2002:7f00:1::1]/hook",  # 6to4 wrapping 127.0.0.1
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "http://example.com/hook",
    ],
)
async def test_a_private_loopback_link_local_or_plain_http_target_is_refused(
    infra, http, logs_url, url
):
    _, admin = await new_workspace(infra)
    response = await http.post(
        f"{logs_url}/v1/alerts/destinations", headers=admin, json={"url": url}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "url"
    assert response.json()["error"]["code"] == "unsafe_destination"
    assert (await http.get(f"{logs_url}/v1/alerts/destinations", headers=admin)).json() == []
