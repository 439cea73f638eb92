"""Refusals of the logs service, each carrying its HTTP status (see services/base/errors.py)."""

from __future__ import annotations

from services.base.errors import Conflict, NotFound, ServiceError


class InvalidCursor(ServiceError):
    """A pagination cursor this API did not hand out."""

    code = "invalid_cursor"


class InvalidFilter(ServiceError):
    """A filter value that cannot be used (e.g. `since` after `until`)."""

    code = "invalid_filter"


class UnsafeDestination(ServiceError):
    """An alert URL that is not HTTPS or resolves to a private, loopback or link-local address."""

    code = "unsafe_destination"


class InstallationNotFound(NotFound):
    """No such installation in the caller's workspace."""


class NoObservationVersion(Conflict):
    """The installation has no observation version to report on."""

    code = "no_observation_version"


class DestinationNotFound(NotFound):
    """No such alert destination in the caller's workspace."""


class RuleNotFound(NotFound):
    """No such alert rule in the caller's workspace."""
