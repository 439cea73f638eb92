"""HTTP in: the dashboard's pages and forms. Handlers stay two lines."""

from services.console.routes.actions import ACTION_ROUTES
from services.console.routes.auth import home, sign_in_page, sign_in_submit, sign_out
from services.console.routes.ext_pages import EXT_PAGE_ROUTES
from services.console.routes.extensions import catalog, catalog_entry, install, installed
from services.console.routes.installation import TAB_ROUTES
from services.console.routes.live import oauth_callback, start_oauth, tail_logs
from services.console.routes.workspace import add_member, audit, members

PUBLIC = [home, sign_in_page, sign_in_submit, sign_out]
SIGNED_IN = [
    installed,
    catalog,
    catalog_entry,
    install,
    *TAB_ROUTES,
    *ACTION_ROUTES,
    *EXT_PAGE_ROUTES,
    tail_logs,
    start_oauth,
    oauth_callback,
    members,
    add_member,
    audit,
]

__all__ = ["PUBLIC", "SIGNED_IN"]
