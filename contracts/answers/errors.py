"""The one error answer of every service: `{"error": {code, message, field?, details?}}`.

`services.base.errors.error_body` builds it for every route (and ingress' prebuilt answers);
the console decodes a refusal with it. A body without this shape is not guessed at.
"""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What went wrong: a stable `code`, a sentence, the offending field and extra details."""

    code: str
    message: str
    field: str | None = None
    details: Any = None


class ErrorAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The body of every 4xx/5xx answer of our services."""

    error: ErrorDetail
