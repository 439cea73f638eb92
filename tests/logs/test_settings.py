"""Per-workspace retention overrides of the logs settings."""

from __future__ import annotations

import pytest

from services.base.settings import SettingsError, load
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


@pytest.mark.parametrize("value", ["ws_a", "ws_a=thirty", "=7", "ws_a=7/many"])
def test_a_malformed_override_stops_the_service_naming_the_variable(value):
    with pytest.raises(SettingsError) as error:
        load(LogsSettings, PREFIX, {"LOGS_RETENTION_OVERRIDES": value})
    assert "LOGS_RETENTION_OVERRIDES" in error.value.message


@pytest.mark.parametrize("value", ["0", "-3"])
def test_alert_concurrency_below_one_stops_the_service_naming_the_variable(value):
    with pytest.raises(SettingsError) as error:
        load(LogsSettings, PREFIX, {"LOGS_ALERT_CONCURRENCY": value})
    assert "LOGS_ALERT_CONCURRENCY" in error.value.message
