"""The rules of a version's route table, over what each `src/api/` file exports.

One set of rules for both readers: the deploy check imports every file in the locked-down
runtime and reads its exports there (`runtime.validation`); first-party registration and
the CLI read them statically (`services.registry.service.route_table`). The manifest's
webhook endpoint keeps the manifest's auth (a connector's signature scheme); a file without
`config` is `api_key` (closed by default); a file with another signature scheme, an unknown
auth or no handler is refused, and so is a webhook endpoint with no route file, each
naming the file (`RouteFileError`).
"""

from __future__ import annotations

from typing import Any, get_args

from contracts.manifest import Manifest, RouteAuth
from contracts.routes import HTTP_METHODS, RouteFileError, RouteSpec, route_path

ROUTE_AUTHS: tuple[str, ...] = get_args(RouteAuth)


def route_files(files: Any) -> list[str]:
    """The bundle's route files (every `.py` under `src/api/` but packages' `__init__`)."""
    return sorted(
        name
        for name in files
        if name.startswith("src/api/")
        and name.endswith(".py")
        and name.rsplit("/", 1)[-1] != "__init__.py"
    )


def webhook_files(manifest: Manifest) -> tuple[str, ...]:
    """The files that may serve the manifest's webhook endpoint."""
    if manifest.webhooks is None:
        return ()
    path = manifest.webhooks.endpoint.strip("/")
    return f"src/api/{path}.py", f"src/api/{path}/index.py"


def route_table(manifest: Manifest, exports: dict[str, tuple[list[str], Any]]) -> list[RouteSpec]:
    """The routes, sorted by path, from `file → (methods exported, config['auth'])`."""
    hooks = webhook_files(manifest)
    routes: list[RouteSpec] = []
    seen: dict[str, str] = {}
    for name in sorted(exports):
        methods, auth = exports[name]
        path = route_path(name)
        if path in seen:
            raise RouteFileError(name, f"serves {path} like {seen[path]}")
        seen[path] = name
        if not methods:
            raise RouteFileError(name, f"exports no handler (one of {', '.join(HTTP_METHODS)})")
        webhook = name in hooks
        if webhook and manifest.webhooks is not None:
            auth = manifest.webhooks.auth
        elif auth is None:
            auth = "api_key"  # closed by default: a route without config needs a key
        elif auth not in ROUTE_AUTHS:
            raise RouteFileError(
                name,
                f"config['auth'] is {auth!r}: a route's auth is one of {', '.join(ROUTE_AUTHS)}"
                " (signature schemes only on the manifest's webhook endpoint)",
            )
        ordered: list[Any] = sorted(methods, key=HTTP_METHODS.index)
        routes.append(RouteSpec(path=path, file=name, methods=ordered, auth=auth, webhook=webhook))
    if hooks and not any(r.webhook for r in routes):
        assert manifest.webhooks is not None
        raise RouteFileError(
            hooks[0], f"webhooks.endpoint {manifest.webhooks.endpoint} has no route file"
        )
    return sorted(routes, key=lambda r: r.path)


def exports_of(module: Any) -> tuple[list[str], Any]:
    """(methods, config['auth']) of an imported route module; RouteFileError-free."""
    methods = [m for m in HTTP_METHODS if callable(getattr(module, m, None))]
    config = getattr(module, "config", None)
    return methods, config.get("auth") if isinstance(config, dict) else None
