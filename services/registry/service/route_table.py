"""A version's route table read statically (`ast`), for code that is not imported here.

The deploy check builds the table from the imported modules in the locked-down runtime
(`runtime.validation`); first-party registration at start (trusted code, no worker yet) and
`backfill dev`'s printed URLs read the files' exports without running them, under the same
rules (`runtime.route_table`). A module-level name (`GET = api(...)`, `def POST`) is an
export; `config` must be a literal dict.
"""

from __future__ import annotations

import ast
from typing import Any

from contracts.manifest import Manifest
from contracts.routes import HTTP_METHODS, RouteFileError, RouteSpec
from runtime.route_table import route_files, route_table


def build_route_table(files: dict[str, bytes], manifest: Manifest) -> list[RouteSpec]:
    """Every route of the bundle; RouteFileError naming the first file it refuses."""
    return route_table(manifest, {name: _exports(name, files[name]) for name in route_files(files)})


def _exports(name: str, source: bytes) -> tuple[list[str], Any]:
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
    return methods, auth


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
