"""The in-run baseline: a bare Litestar app answering `return 202`, served like ingress is."""

from __future__ import annotations

import sys

from litestar import Litestar, Response, post

from services.base.http import serve


@post("/hooks/{hook_id:str}", status_code=202)
async def receive(hook_id: str) -> Response[bytes]:
    """Accept anything, do nothing."""
    return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")


if __name__ == "__main__":
    serve(Litestar([receive]), host="127.0.0.1", port=int(sys.argv[1]), port_setting="argv[1]")
