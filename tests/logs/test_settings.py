"""Per-workspace retention overrides of the logs settings."""

from __future__ import annotations

from services.base.settings import load
from services.logs.settings import PREFIX, LogsSettings


def test_a_workspace_override_replaces_days_lines_or_both():
    settings = load(
        LogsSettings,
        PREFIX,
        {
            "LOGS_RETENTION_DAYS": "14",
            "LOGS_MAX_LINES_PER_WORKSPACE": "1000",
            "LOGS_RETENTION_OVERRIDES": "ws_a=30/5000, ws_b=7, ws_c=/10",
        },
    )
    assert settings.retention_for("ws_a") == (30, 5000)
    assert settings.retention_for("ws_b") == (7, 1000)
    assert settings.retention_for("ws_c") == (14, 10)
    assert settings.retention_for("ws_other") == (14, 1000)
