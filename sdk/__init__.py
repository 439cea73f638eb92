"""The extension SDK authors import: define_connector, api, ingest, Log, secrets, streams.

Capabilities (`ingest`, `Log`, `secrets`, `settings`, `http`) resolve the invocation they
are called from, so module-level imports work in handlers and stream modules.
"""

from sdk import http, ingest, secrets, settings, ui
from sdk.api import Request, api
from sdk.catalog import (
    Canonical,
    CatalogEntry,
    EventCatalog,
    event_idempotency_key,
    handle_event,
    one_record,
)
from sdk.cursors import Sweep
from sdk.define import define_connector, define_entity, define_extension
from sdk.errors import PermissionDenied, ValidationError, ValidationErrors
from sdk.hooks import HookContext
from sdk.log import Log
from sdk.pages import Member, PageContext
from sdk.streams import ConnectionResult, Context, Page

__all__ = [
    "Canonical",
    "CatalogEntry",
    "ConnectionResult",
    "Context",
    "EventCatalog",
    "HookContext",
    "Log",
    "Member",
    "Page",
    "PageContext",
    "PermissionDenied",
    "Request",
    "Sweep",
    "ValidationError",
    "ValidationErrors",
    "api",
    "define_connector",
    "define_entity",
    "define_extension",
    "event_idempotency_key",
    "handle_event",
    "http",
    "ingest",
    "one_record",
    "secrets",
    "settings",
    "ui",
]
