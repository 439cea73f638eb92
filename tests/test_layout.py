"""The house layout, checked: standard files per service, short files, no grab-bag modules,
and each app's Kafka subscriptions and publishers equal to what `contracts/topics.py` declares.

Exemptions are listed here, each with its reason, so that a new one is a reviewed change.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import msgspec
import pytest

from contracts.topics import (
    DEAD_LETTERS,
    TOPICS,
)
from tests.harness import Infra

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = (
    "contracts",
    "sdk",
    "runtime",
    "services",
    "connectors",
    "examples",
    "cli",
    "bench",
)
SERVICES = ("registry", "ingress", "sync", "logs", "console")
STANDARD_FILES = (
    "app.py",
    "settings.py",
    "routes.py",
    "subscribers.py",
    "service.py",
    "store.py",
    "schemas.py",
)
MAX_LINES = 400
GRAB_BAG_NAMES = {"utils", "helpers", "misc", "common"}

# (service, file) pairs a service legitimately does without; a file may also be a package.
MISSING_ALLOWED = {
    # The registry consumes no topic: it is the source of installations and audit events.
    ("registry", "subscribers.py"),
    # Ingress reads snapshots without a consumer group (services.base.snapshots.Follower) and
    # deliveries at known offsets (deliveries.py): nothing it subscribes to as a group.
    ("ingress", "subscribers.py"),
    # The console holds no state beyond the session and consumes no topic: it calls the other
    # services' HTTP APIs (downstream.py) and renders templates (no JSON shapes of its own).
    ("console", "subscribers.py"),
    ("console", "store.py"),
    ("console", "schemas.py"),
}

# (service, "consumes" | "publishes", topic) the contracts declare but the app does not do yet.
EXPECTED_GAPS: set[tuple[str, str, str]] = {
    # (service, "consumes" | "publishes", topic) with the reason it is allowed; none today.
}


def source_files() -> list[Path]:
    return sorted(p for package in SOURCE_PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_the_standard_files(service: str) -> None:
    folder = ROOT / "services" / service
    missing = {
        (service, name)
        for name in STANDARD_FILES
        if not (folder / name).is_file() and not (folder / name.removesuffix(".py")).is_dir()
    }

    assert missing <= MISSING_ALLOWED, f"missing: {sorted(missing - MISSING_ALLOWED)}"


def test_exemptions_are_still_needed() -> None:
    present = {
        (service, name)
        for service, name in MISSING_ALLOWED
        if (ROOT / "services" / service / name).is_file()
        or (ROOT / "services" / service / name.removesuffix(".py")).is_dir()
    }

    assert not present, f"remove from MISSING_ALLOWED: {sorted(present)}"


def test_no_source_or_test_file_is_longer_than_400_lines() -> None:
    tests = sorted((ROOT / "tests").rglob("*.py"))
    long = {
        str(p.relative_to(ROOT)): n
        for p in [*source_files(), *tests]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }

    assert not long, f"split these by concept: {long}"


# One mechanism per concern (STYLE.md 11): the code that may spell each one.
ONE_PLACE = {
    # Consuming a topic as a group: decode, step, commit, hold or park (services/base/consumers).
    ".subscriber(": {"services/base/consumers.py"},
    # Following installation snapshots into a view with one readiness signal.
    "INSTALLATION_SNAPSHOTS.decode(": {"services/base/snapshots.py"},
}


@pytest.mark.parametrize("needle", sorted(ONE_PLACE))
def test_each_mechanism_is_written_in_one_place(needle: str) -> None:
    found = {
        str(p.relative_to(ROOT)) for p in source_files() if needle in p.read_text(encoding="utf-8")
    }

    assert found <= ONE_PLACE[needle], (
        f"{needle!r} outside its one place: {found - ONE_PLACE[needle]}"
    )


def test_no_module_is_a_grab_bag() -> None:
    found = [
        str(p.relative_to(ROOT))
        for p in source_files()
        if p.stem in GRAB_BAG_NAMES or p.parent.name in GRAB_BAG_NAMES
    ]

    assert not found, f"name these by what they do: {found}"


def app_topics(service: str, infra: Infra) -> tuple[set[str], set[str]]:
    """What `create_app` of a service subscribes and publishes (built, never started)."""
    app_module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    settings_cls = next(
        value
        for name, value in vars(settings_module).items()
        if name.endswith("Settings")
        and isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__module__ == settings_module.__name__
    )
    app = app_module.create_app(settings_cls(), infra.settings())
    return set(app.state.infra.consumers.consumes), set(app.state.infra.publishes)


@pytest.mark.parametrize("service", SERVICES)
def test_each_app_consumes_and_publishes_what_the_contracts_declare(
    service: str, infra: Infra
) -> None:
    consumes, publishes = app_topics(service, infra)
    declared_consumes = {t.name for t in TOPICS if service in t.consumers}
    declared_publishes = {t.name for t in TOPICS if service in t.producers}
    gaps = {(s, what, topic) for s, what, topic in EXPECTED_GAPS if s == service}
    consume_gaps = {topic for _, what, topic in gaps if what == "consumes"}
    publish_gaps = {topic for _, what, topic in gaps if what == "publishes"}

    assert consumes == declared_consumes - consume_gaps
    assert publishes == declared_publishes - publish_gaps
    assert DEAD_LETTERS.name not in publishes or consumes, "only consumers park dead letters"
