"""Security headers on every console answer: a strict Content-Security-Policy and friends.

The console serves its own scripts only (htmx and app.js from /static, no inline script and
no `eval`), so a script injected into a page through any value it renders does not run.
Inline `style` attributes are allowed (templates use them; styles cannot run code). Forms
may post anywhere the console redirects to (the OAuth connect form ends at the provider), so
`form-action` is left to the extension pages, which set their own stricter policy; a header
a route set itself is never replaced.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONSOLE_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def security_headers(app: ASGIApp) -> ASGIApp:
    """Middleware: add `HEADERS` to every HTTP answer that does not carry them already."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in HEADERS if n not in present]
                message = {**message, "headers": headers}  # type: ignore[typeddict-item]
            await send(message)

        await app(scope, receive, sending)

    return middleware
