"""Every service documents the topics it consumes and produces (AsyncAPI with msgspec schemas)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("service", ["registry", "ingress", "sync", "logs"])
async def test_service_asyncapi_lists_its_topics_with_msgspec_schemas(service, infra, http):
    import importlib

    from services.base.settings import load
    from tests.harness import logs_store_dir, serving

    module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings"))
    # The logs service opens its embedded store: this test process' one directory, never the
    # repository's .backfill/ (chDB holds a single directory per process).
    environ = {"UNUSED_DATA_DIR": logs_store_dir()} if service == "logs" else {}
    app = module.create_app(load(settings_cls, "UNUSED_", environ), infra.settings())
    async with serving(app) as url:
        document = (await http.get(f"{url}/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses, "no channels documented"
    for message in document["components"]["messages"].values():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert "properties" in document["components"]["schemas"][ref]
