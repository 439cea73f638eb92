"""Schema-driven fuzzing of every service's live OpenAPI document (schemathesis).

Each operation of registry, ingress, logs and sync gets generated requests — valid and
invalid bodies, query strings, path parameters, headers — sent as an admin of the seeded
`fuzz` workspace, with the seeded ids substituted into id path parameters half of the time so
that handlers do real work. Every response must: not be a 5xx, use a documented status code
and content type, match its documented schema, and (4xx) carry the one error shape
`{"error": {"code", "message", "field"}}`.

Budget: BACKFILL_FUZZ_EXAMPLES examples per operation (a few under `make test`, derandomized
so CI is repeatable; `make fuzz` raises it and draws fresh examples every run).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.robustness.live import Suite
from tests.robustness.sse import session_for

FUZZED = ("registry", "ingress", "logs", "sync")  # the console serves HTML only
EXAMPLES = int(os.environ.get("BACKFILL_FUZZ_EXAMPLES", "4"))
DERANDOMIZE = os.environ.get("BACKFILL_FUZZ_RANDOM", "") != "1"
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.check
def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx with a JSON body is `{"error": {"code": str, "message": str, "field"?}}`."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error shape: {body!r}"
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], f"no error code: {body!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"no message: {body!r}"
    assert error.get("field") is None or isinstance(error["field"], str), f"bad field: {body!r}"
    return None


# An extension's own API (`/ext/...`) answers whatever status its code chooses; the platform's
# refusals there (401, 404, 405, 410, 413, 429, 503, 504) are tested in tests/ingress/
# test_ext_routes.py, as the webhook endpoint's are in test_webhook_fuzz.
EXTENSION_OWNED = ("/ext/",)


def operations(live: Suite, service: str) -> list[Any]:
    """Every platform operation of the service's live OpenAPI document."""
    schema = schemathesis.openapi.from_url(f"{live.url(service)}/schema/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if not op.path.startswith(EXTENSION_OWNED)]


# id parameters that get the seeded resource's id (never `token_id`: a fuzzed DELETE would
# revoke the fuzzer's own token and turn the rest of the run into 401s)
SEEDED = {
    "installation_id",
    "key",
    "extension_key",
    "name",
    "stream",
    "entry_id",
    "destination_id",
    "rule_id",
}
# ... and these not for a DELETE, so that the operations after it still find them
KEPT = {"destination_id", "rule_id"}


def fuzz(operation: Any, live: Suite, service: str, sent: list[int]) -> None:
    """Send generated requests (valid and invalid) for one operation; raise on the first bad
    answer (Hypothesis shrinks it to a minimal failing request first)."""
    workspace = live.workspaces["fuzz"]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=strategy, seeded=st.booleans())
    def run(case: Any, seeded: bool) -> None:
        for name in list(case.path_parameters or {}):
            if seeded and name in SEEDED and not (case.method.upper() == "DELETE" and name in KEPT):
                case.path_parameters[name] = workspace.ids[name]
        sent[0] += 1
        case.call_and_validate(
            base_url=live.url(service),
            session=session_for(operation),
            headers=workspace.auth("admin"),
            checks=CHECKS,
            additional_checks=[error_shape],
            timeout=30,
        )

    run()


@pytest.mark.parametrize("service", FUZZED)
def test_every_operation_survives_generated_requests(live: Suite, service: str) -> None:
    failures: dict[str, str] = {}
    sent = [0]
    for operation in operations(live, service):
        try:
            fuzz(operation, live, service, sent)
        except Exception as error:  # every operation runs; all failures are reported together
            failures[f"{operation.method.upper()} {operation.path}"] = str(error)[:1500]
    print(f"fuzz {service}: {sent[0]} requests")
    assert not failures, "\n\n".join(f"{op}:\n{text}" for op, text in failures.items())
