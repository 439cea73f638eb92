"""`define_extension` / `define_connector` / `define_entity`: manifests written in Python.

Keyword arguments use Python names (`settings_schema`, `canonical_type`); they are checked by
the same `parse_manifest` as a `manifest.json`, so every error names its field. A directory
deploys from its `manifest.json`, or from a `manifest.py` that assigns `manifest =
define_connector(...)`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from contracts.manifest import EntityDefinition, Manifest, ManifestError, parse_manifest

_SNAKE = re.compile(r"_([a-z0-9])")


def _camel_key(key: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), key)


def _camelize(value: Any, *, keep_keys: bool = False) -> Any:
    """Camel-case struct keys; keys of `properties` are user field names and stay as written."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, dict):
        return {
            (key if keep_keys else _camel_key(key)): _camelize(
                item, keep_keys=not keep_keys and key == "properties"
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_camelize(item) for item in value]
    return value


def _define(kind: str, source: Any, fields: dict[str, Any]) -> Manifest:
    if source is not None:
        if fields:
            raise TypeError("pass either a manifest (file or dict) or keyword fields, not both")
        if isinstance(source, str | Path):
            data: Any = Path(source).read_bytes()
            manifest = parse_manifest(data)
        else:
            manifest = parse_manifest(_camelize(dict(source)))
    else:
        manifest = parse_manifest(_camelize({"kind": kind, **fields}))
    if manifest.kind != kind:
        raise ManifestError("kind", f"expected {kind!r}, the manifest says {manifest.kind!r}")
    return manifest


def define_extension(source: Any = None, /, **fields: Any) -> Manifest:
    """An extension's manifest (pages, UI, routes, entities, config)."""
    return _define("extension", source, fields)


def define_connector(source: Any = None, /, **fields: Any) -> Manifest:
    """A connector's manifest (connection settings, webhooks, streams, OAuth)."""
    return _define("connector", source, fields)


def define_entity(name: str, fields: dict[str, Any] | None = None) -> EntityDefinition:
    """A custom entity type; `fields` maps a name to a type or `{"type": ..., "required": ...}`."""
    spec = []
    for field_name, field in (fields or {}).items():
        described = {"type": field} if isinstance(field, str) else dict(field)
        spec.append({"name": field_name, **described})
    try:
        return msgspec.convert({"name": name, "fields": spec}, EntityDefinition)
    except msgspec.ValidationError as error:
        raise ManifestError(f"entities.{name}", str(error)) from None


def manifest_from_directory(directory: Path) -> Manifest:
    """The manifest of a source directory: `manifest.json`, else `manifest.py`'s `manifest`."""
    json_file, py_file = directory / "manifest.json", directory / "manifest.py"
    if json_file.exists():
        return parse_manifest(json_file.read_bytes())
    if py_file.exists():
        namespace: dict[str, Any] = {"__name__": "backfill_manifest", "__file__": str(py_file)}
        exec(compile(py_file.read_text(), str(py_file), "exec"), namespace)
        manifest = namespace.get("manifest")
        if not isinstance(manifest, Manifest):
            raise ManifestError("manifest", "manifest.py must assign manifest = define_...(...)")
        return manifest
    raise ManifestError("manifest", f"{directory} has neither manifest.json nor manifest.py")
