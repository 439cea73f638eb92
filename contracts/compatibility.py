"""Committed JSON Schemas of the topics; a message type may only evolve compatibly.

Each topic's schema (from its msgspec Struct) is committed under `contracts/schemas/<topic>/`
as numbered versions `1.json`, `2.json`, … that are never edited or deleted. A change to a
message type is allowed when every consumer keeps decoding every message: a field may be
added only with a default, never removed, renamed or retyped, and an enum may gain values
but not lose them (docs/topics.md; a breaking change is a new `...v2` topic).
`python -m contracts.compatibility` (`make schemas`) writes the next version of each topic
whose type changed compatibly, and refuses, naming the field, when a change is not;
tests/contracts/test_schemas.py fails until the versions are committed and compatible.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from contracts.topics import TOPICS, Topic

SCHEMAS = Path(__file__).parent / "schemas"
Schema = dict[str, Any]


def current_schema(topic: Topic[Any]) -> Schema:
    """The JSON Schema of the topic's message type as the code declares it now.

    Docstrings (`description`, `title`) are left out: rewording one is not a new version.
    """
    return _without_prose(msgspec.json.schema(topic.message))


def _without_prose(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_prose(v)
            for k, v in node.items()
            if not (k in ("description", "title") and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_without_prose(v) for v in node]
    return node


def versions(topic: Topic[Any]) -> list[Schema]:
    """The committed schema versions of a topic, oldest first."""
    folder = SCHEMAS / topic.name
    files = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.exists() else []
    return [json.loads(f.read_text()) for f in files]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Why a consumer of `new` cannot read a message written against `old` (empty: compatible)."""
    problems: list[str] = []
    _compare(old, old, new, new, "", problems)
    return problems


def unreadable_fields(reader: Schema, writer: Schema) -> list[str]:
    """Why `reader` (a Struct's schema) cannot decode what `writer` (e.g. an OpenAPI answer) sends.

    Like `breaking_changes`, except that the writer may send fields the reader does not know.
    Refs resolve in `$defs` or, for an OpenAPI document, `components.schemas`.
    """
    return [p for p in breaking_changes(reader, writer) if not p.endswith("(old messages lack it)")]


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        defs = root.get("$defs") or root.get("components", {}).get("schemas", {})
        node = defs[name]
    return node


def _alternatives(node: Schema, root: Schema) -> list[Schema]:
    node = _resolve(node, root)
    for union in ("anyOf", "oneOf"):
        if union in node:
            return [a for option in node[union] for a in _alternatives(option, root)]
    if isinstance(node.get("type"), list):
        rest = {k: v for k, v in node.items() if k != "type"}
        return [{**rest, "type": t} for t in node["type"]]
    return [node]


def _kind(node: Schema) -> str:
    if node.get("type") == "null":  # OpenAPI's nullable enum: {"type": [.., "null"], "enum": ..}
        return "null"
    if "enum" in node or "const" in node:
        return "enum"
    if "properties" in node:
        return "struct"
    return str(node.get("type", "any"))


def _compare(
    old: Schema, old_root: Schema, new: Schema, new_root: Schema, at: str, problems: list[str]
) -> None:
    new_options = _alternatives(new, new_root)
    for option in _alternatives(old, old_root):
        kind = _kind(option)
        matches = [n for n in new_options if _kind(n) == kind or _kind(n) == "any"]
        if not matches:
            found = sorted({_kind(n) for n in new_options})
            problems.append(f"{at or 'message'}: was {kind}, now {' | '.join(found)}")
            continue
        if kind == "enum":
            values = {v for n in matches for v in n.get("enum", [n.get("const")])}
            lost = set(option.get("enum", [option.get("const")])) - values
            if lost:
                problems.append(f"{at}: values {sorted(map(str, lost))} removed")
        elif kind == "struct":  # of several (a tagged union): the one it evolved into
            tries: list[list[str]] = []
            for match in matches:
                tries.append([])
                _compare_struct(option, old_root, match, new_root, at, tries[-1])
            problems.extend(sorted(tries, key=len)[0])
        elif kind == "array" and "items" in option and "items" in matches[0]:
            _compare(option["items"], old_root, matches[0]["items"], new_root, f"{at}[]", problems)
        elif kind == "object":
            old_values = option.get("additionalProperties")
            new_values = matches[0].get("additionalProperties")
            if isinstance(old_values, dict) and isinstance(new_values, dict):
                _compare(old_values, old_root, new_values, new_root, f"{at}{{}}", problems)


def _compare_struct(
    old: Schema, old_root: Schema, new: Schema, new_root: Schema, at: str, problems: list[str]
) -> None:
    prefix = f"{at}." if at else ""
    for name, field in old["properties"].items():
        if name not in new["properties"]:
            problems.append(f"{prefix}{name}: removed")
            continue
        _compare(field, old_root, new["properties"][name], new_root, f"{prefix}{name}", problems)
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{prefix}{name}: required without a default (old messages lack it)")


def write_next_versions() -> list[str]:
    """Commit-ready: write a new version for each topic whose type changed compatibly."""
    written, refused = [], []
    for topic in TOPICS:
        history, now = versions(topic), current_schema(topic)
        if history and history[-1] == now:
            continue
        if history and (problems := breaking_changes(history[-1], now)):
            refused.append(f"{topic.name}: " + "; ".join(problems))
            continue
        path = SCHEMAS / topic.name / f"{len(history) + 1}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
        written.append(str(path.relative_to(SCHEMAS.parent.parent)))
    if refused:
        raise SystemExit("not backward compatible (make a ...v2 topic):\n" + "\n".join(refused))
    return written


if __name__ == "__main__":
    for line in write_next_versions():
        print(f"wrote {line}")
    sys.exit(0)
