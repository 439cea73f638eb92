"""The component set of pages and UI contributions (contracts/ui.py), for extension code.

`from sdk import ui` then `ui.Table(columns=[ui.Column(key="id", label="Id")], rows=[...])`.
Plain dicts with a `type` tag are accepted too; the platform checks every tree it is given.
"""

from contracts.ui import (
    Badge,
    Button,
    Chart,
    Column,
    Field,
    Form,
    Heading,
    KeyValue,
    KeyValueItem,
    Link,
    Option,
    Section,
    Series,
    Table,
    Text,
)

__all__ = [
    "Badge",
    "Button",
    "Chart",
    "Column",
    "Field",
    "Form",
    "Heading",
    "KeyValue",
    "KeyValueItem",
    "Link",
    "Option",
    "Section",
    "Series",
    "Table",
    "Text",
]
