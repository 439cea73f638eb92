"""The route table of a version, built at deploy from the bundle's `src/api/` files.

Built statically (the files are parsed with `ast`, never run in the registry): a route file
exports one handler per HTTP method as a module-level name (`GET = api(...)`, `def POST`)
and `config = {"auth": "api_key" | "public"}` as a literal. The manifest's webhook endpoint
keeps the manifest's auth (a connector's signature scheme); a file without `config` is
`api_key` (closed by default); any other file with a signature scheme, an unknown auth, or
no handler is refused, naming the file, and so is a
webhook endpoint with no route file. When the deploy step that imports every script in the
locked-down runtime lands, the table is read from the imported modules there instead.
"""

from __future__ import annotations

import ast
from typing import Any, get_args

from contracts.manifest import Manifest, RouteAuth
from contracts.routes import HTTP_METHODS, RouteFileError, RouteSpec, route_path

ROUTE_AUTHS: tuple[str, ...] = get_args(RouteAuth)


def build_route_table(files: dict[str, bytes], manifest: Manifest) -> list[RouteSpec]:
    """Every route of the bundle, sorted by path; RouteFileError naming the first bad file."""
    endpoint = manifest.webhooks.endpoint if manifest.webhooks else None
    webhook_files = _files_of(endpoint) if endpoint else ()
    routes: list[RouteSpec] = []
    seen: dict[str, str] = {}
    for name in sorted(files):
        if not (name.startswith("src/api/") and name.endswith(".py")):
            continue
        if name.rsplit("/", 1)[-1] == "__init__.py":
            continue
        path = route_path(name)
        if path in seen:
            raise RouteFileError(name, f"serves {path} like {seen[path]}")
        seen[path] = name
        methods, auth = _exports(name, files[name])
        webhook = name in webhook_files
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
        routes.append(RouteSpec(path=path, file=name, methods=methods, auth=auth, webhook=webhook))  # type: ignore[arg-type]
    if endpoint and not any(r.webhook for r in routes):
        raise RouteFileError(
            webhook_files[0], f"webhooks.endpoint {endpoint} has no route file (looked for it)"
        )
    return sorted(routes, key=lambda r: r.path)


def _files_of(endpoint: str) -> tuple[str, str]:
    path = endpoint.strip("/")
    return f"src/api/{path}.py", f"src/api/{path}/index.py"


def _exports(name: str, source: bytes) -> tuple[list[Any], Any]:
    """(methods exported, config['auth']) of a route file, read without running it."""
    try:
        tree = ast.parse(source, filename=name)
    except SyntaxError as error:
        raise RouteFileError(name, f"does not compile: line {error.lineno}: {error.msg}") from None
    methods: list[str] = []
    auth: Any = None
    for node in tree.body:
        for target in _assigned(node):
            if target in HTTP_METHODS and target not in methods:
                methods.append(target)
            if target == "config" and isinstance(node, ast.Assign | ast.AnnAssign):
                auth = _auth_of(name, node.value)
    if not methods:
        raise RouteFileError(name, f"exports no handler (one of {', '.join(HTTP_METHODS)})")
    return sorted(methods, key=HTTP_METHODS.index), auth


def _assigned(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.ImportFrom):
        return [alias.asname or alias.name for alias in node.names]
    return []


def _auth_of(name: str, value: ast.expr | None) -> Any:
    try:
        config = ast.literal_eval(value) if value is not None else None
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise RouteFileError(name, "config must be a literal dict such as {'auth': 'api_key'}")
    return config.get("auth")
