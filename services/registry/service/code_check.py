"""Broken code never ships: a deploy is checked in the locked-down runtime before it commits.

The registry hands the stored bundle to a `validate` invocation (`runtime.validation`):
every script compiles, every entry point the manifest declares imports in an isolated
worker and exports what the platform will call. Any problem refuses the deploy (422
`invalid_code`, naming file, line and message) and nothing changes. A check that cannot
run (no worker could start) refuses too, as 503: code is never deployed unchecked.
"""

from __future__ import annotations

import logging

import msgspec

from contracts.installations import VersionRef
from contracts.routes import RouteSpec
from runtime.interface import Invoker
from runtime.isolated.pool import IsolationUnavailable
from runtime.validation import ValidationUnavailable, check_version
from services.base.errors import Unavailable
from services.registry.errors import InvalidCode

log = logging.getLogger(__name__)


class CodeCheck:
    """Refuses a version whose code cannot run."""

    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker

    async def refuse_broken(self, workspace_id: str, version: VersionRef) -> list[RouteSpec]:
        """The version's route table when it is deployable; InvalidCode or Unavailable otherwise.

        The table is read from the modules the check imported (no second import pass).
        """
        try:
            report = await check_version(self.invoker, workspace_id, version)
        except (ValidationUnavailable, IsolationUnavailable) as error:
            log.error("deploy check could not run", extra={"error": str(error)})
            raise Unavailable(
                f"the deploy check could not run ({error}); nothing was deployed, retry"
            ) from None
        if report.problems:
            raise InvalidCode(msgspec.to_builtins(report.problems), str(report.problems[0]))
        return report.routes
