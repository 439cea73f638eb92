"""The component tree of extension pages and UI contributions: the only UI extensions send.

A page's `render(ctx)` and a contribution's entry return a tree of these components (as
SDK objects or plain dicts with a `type` tag). The platform decodes every tree with
`parse_tree` before anything else sees it: unknown types or fields, trees deeper than
`MAX_DEPTH` or larger than `MAX_NODES`, and links that are not `https://` or console-relative
are refused with the path of the offending node. The console renders a decoded tree with its
own templates (autoescaped): extension code never sends HTML or script to a browser.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

MAX_DEPTH = 12
MAX_NODES = 2000
MAX_TEXT = 4000
MAX_SERIES = 10  # per chart
MAX_POINTS = 500  # per series: the console draws charts server-side
# A form's or button's action is a name the page declares, never a path (it becomes the last
# segment of the console URL the form posts to, with a CSRF token).
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
Tone = Literal["neutral", "info", "success", "warning", "danger"]
FieldType = Literal["text", "textarea", "number", "email", "select", "checkbox", "date"]
Scalar = str | int | float | bool | None
# https:// or a path inside the console; never javascript:, data:, protocol-relative or http.
SAFE_HREF = re.compile(r"^(https://[^\s\"'<>]+|/(?!/)[^\s\"'<>\\]*)$")


class _Node(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True
):
    """A component; `type` is its tag (the snake-case class name below)."""


class Heading(_Node, frozen=True, kw_only=True, tag="heading"):
    text: str
    level: Literal[1, 2, 3] = 2


class Text(_Node, frozen=True, kw_only=True, tag="text"):
    text: str
    tone: Tone = "neutral"


class KeyValueItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: str
    value: Scalar


class KeyValue(_Node, frozen=True, kw_only=True, tag="key_value"):
    items: list[KeyValueItem]


class Column(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    key: str
    label: str


class Table(_Node, frozen=True, kw_only=True, tag="table"):
    columns: list[Column]
    rows: list[dict[str, Scalar]]
    empty: str = "Nothing yet."


class Option(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    value: str
    label: str


class Field(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One input of a form; its value arrives in the action's `input` under `name`."""

    name: str
    label: str
    type: FieldType = "text"
    required: bool = False
    value: Scalar = None
    options: list[Option] = []
    help: str = ""


class Form(_Node, frozen=True, kw_only=True, tag="form"):
    """Posts its fields to the page action `action` (declared in the manifest's page)."""

    action: str
    fields: list[Field]
    submit_label: str = "Submit"


class Button(_Node, frozen=True, kw_only=True, tag="button"):
    """Runs the page action `action` with `payload` as its input."""

    label: str
    action: str
    payload: dict[str, Scalar] = {}
    tone: Tone = "neutral"
    confirm: str = ""


class Link(_Node, frozen=True, kw_only=True, tag="link"):
    label: str
    href: str


class Badge(_Node, frozen=True, kw_only=True, tag="badge"):
    text: str
    tone: Tone = "neutral"


class Series(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: str
    points: list[tuple[float | str, float]]


class Chart(_Node, frozen=True, kw_only=True, tag="chart"):
    """A small time series (or categories) the console draws as server-side SVG."""

    title: str
    series: list[Series]
    kind: Literal["line", "bar"] = "line"


class Section(_Node, frozen=True, kw_only=True, tag="section"):
    """A group of components, optionally titled: the only container."""

    children: list[Component]
    title: str = ""


Component = Heading | Text | KeyValue | Table | Form | Button | Link | Badge | Chart | Section


class UnsafeTree(ValueError):
    """A tree the platform refuses to render; `path` points at the node (`children[2].href`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def parse_tree(value: Any) -> list[Component]:
    """Decode a rendered tree (one component or a list), check its limits; UnsafeTree if bad."""
    items = value if isinstance(value, list) else [value]
    try:
        tree = msgspec.convert(items, list[Component])
    except msgspec.ValidationError as error:
        raise UnsafeTree("tree", str(error)) from None
    count = 0

    def walk(nodes: list[Component], path: str, depth: int) -> None:
        nonlocal count
        if depth > MAX_DEPTH:
            raise UnsafeTree(path, f"deeper than {MAX_DEPTH} levels")
        for i, node in enumerate(nodes):
            here = f"{path}[{i}]"
            count += 1
            if count > MAX_NODES:
                raise UnsafeTree(here, f"more than {MAX_NODES} components")
            for name in ("text", "label", "title"):
                text = getattr(node, name, None)
                if isinstance(text, str) and len(text) > MAX_TEXT:
                    raise UnsafeTree(f"{here}.{name}", f"longer than {MAX_TEXT} characters")
            if isinstance(node, Link) and not SAFE_HREF.match(node.href):
                raise UnsafeTree(f"{here}.href", "links must be https:// or a console path")
            if isinstance(node, Form | Button) and not ACTION_NAME.match(node.action):
                raise UnsafeTree(f"{here}.action", "must be an action name the page declares")
            if isinstance(node, Chart):
                if len(node.series) > MAX_SERIES:
                    raise UnsafeTree(f"{here}.series", f"more than {MAX_SERIES} series")
                for j, series in enumerate(node.series):
                    if len(series.points) > MAX_POINTS:
                        raise UnsafeTree(
                            f"{here}.series[{j}].points", f"more than {MAX_POINTS} points"
                        )
            if isinstance(node, Section):
                walk(node.children, f"{here}.children", depth + 1)

    walk(tree, "tree", 1)
    return tree


class PageRef(msgspec.Struct, frozen=True, kw_only=True):
    """A page as the navigation lists it (no code runs to list pages)."""

    installation_id: str
    extension_key: str
    path: str
    title: str
    nav: bool = False


class PageView(msgspec.Struct, frozen=True, kw_only=True):
    """A rendered page: ingress's answer to `GET /v1/installations/{id}/pages/{path}`."""

    page: PageRef
    version_id: str
    mode: Literal["active", "observe", "draft"] = "active"
    tree: list[Component]


class ActionFieldError(msgspec.Struct, frozen=True, kw_only=True):
    """A validation error a page action raised, shown next to its field."""

    field: str | None
    message: str


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a page action answered: a message, field errors, and optionally a new tree."""

    ok: bool
    message: str = ""
    errors: list[ActionFieldError] = []
    tree: list[Component] | None = None


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """One UI contribution rendered for a slot (`GET /v1/ui/{slot}`); `error` if it failed."""

    installation_id: str
    extension_key: str
    slot: str
    title: str
    page: str = ""
    tree: list[Component] = []
    error: str | None = None
