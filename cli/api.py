"""The HTTP client every command uses: one place that turns answers into exit codes and hints.

Every request carries the workspace token; errors come back as `{"error": {code, message,
field}}` and become a `CliError` whose exit code says what kind of failure it was and whose
hint says what to do next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from cli.config import Target
from cli.errors import CliError, ExitCode
from services.base.settings import CLIENT_IDLE_S

NO_TOKEN_HINT = "run `backfill login`, pass --token or set BACKFILL_TOKEN"


def error_text(response: httpx.Response) -> str:
    """`code: message (field)` from the error shape, or the raw status and text."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return f"{response.status_code}: {response.text[:200]}"
    field = f" (field {error['field']})" if error.get("field") else ""
    text = f"{error.get('code', response.status_code)}: {error.get('message', '')}{field}"
    problems = (error.get("details") or {}).get("problems")
    if isinstance(problems, list):  # a refused deploy: every file, line and message
        for problem in problems:
            if isinstance(problem, dict):
                line = f":{problem['line']}" if problem.get("line") else ""
                text += f"\n  {problem.get('file')}{line}: {problem.get('message')}"
    return text


class Api:
    """Calls one workspace's services with its token."""

    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        if not target.token:
            raise CliError("not signed in", ExitCode.AUTH, NO_TOKEN_HINT)
        self.target = target
        self.client = httpx.Client(
            headers={"authorization": f"Bearer {target.token}"},
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=CLIENT_IDLE_S),
        )

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        allow: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """One call; a non-2xx status not in `allow` raises a CliError with a fitting code."""
        url = f"{self.target.url(service)}{path}"
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise CliError(
                f"{service} unreachable at {self.target.url(service)} ({type(error).__name__})",
                ExitCode.UNREACHABLE,
                f"is the suite running (`backfill up`)? set BACKFILL_{service.upper()}_URL "
                "or `backfill login --{service} URL` to point elsewhere",
            ) from None
        if response.is_success or response.status_code in allow:
            return response
        raise failure(service, response)

    def get(self, service: str, path: str, **kwargs: Any) -> Any:
        """GET and decode JSON."""
        return self.request(service, "GET", path, **kwargs).json()

    def post(self, service: str, path: str, **kwargs: Any) -> Any:
        """POST and decode JSON (None for an empty body)."""
        response = self.request(service, "POST", path, **kwargs)
        return response.json() if response.content else None

    def stream_lines(self, service: str, path: str, **kwargs: Any) -> Iterator[str]:
        """A long-lived GET (server-sent events), line by line."""
        url = f"{self.target.url(service)}{path}"
        try:
            with self.client.stream("GET", url, timeout=None, **kwargs) as response:
                if not response.is_success:
                    response.read()
                    raise failure(service, response)
                yield from response.iter_lines()
        except httpx.HTTPError as error:
            raise CliError(
                f"{service} stream ended ({type(error).__name__})", ExitCode.UNREACHABLE
            ) from None


def failure(service: str, response: httpx.Response) -> CliError:
    """The CliError for a refused request."""
    status, text = response.status_code, error_text(response)
    if status == 401:
        return CliError(f"token refused by {service} ({text})", ExitCode.AUTH, NO_TOKEN_HINT)
    if status == 403:
        return CliError(
            f"not allowed ({text})", ExitCode.AUTH, "this needs an admin token of the workspace"
        )
    if status == 404:
        return CliError(f"not found ({text})", ExitCode.NOT_FOUND)
    if status >= 500:
        return CliError(
            f"{service} failed ({text})", ExitCode.UNREACHABLE, "retry; if it persists, see its log"
        )
    return CliError(f"refused ({text})", ExitCode.FAILED)
