"""Structured JSON logs on stdout, one object per line, with the service name on every line."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Render a record as JSON; `extra=` fields become top-level keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(line).decode(errors="replace") if _safe(line) else repr(line)


def _safe(line: dict[str, Any]) -> bool:
    try:
        _encoder.encode(line)
    except (TypeError, msgspec.EncodeError):
        for key, value in list(line.items()):
            line[key] = (
                value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
            )
    return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, Litestar's, FastStream's, aiokafka's) through JSON on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.Formatter.converter = time.gmtime
