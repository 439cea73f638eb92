"""What a worker may read: the interpreter's library and packages, never the platform's code."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from runtime.isolated.lockdown import exposure


def package(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    return root / name


def test_platform_installed_into_site_packages_stays_unreadable(tmp_path: Path, monkeypatch):
    site = tmp_path / "site-packages"
    allowed = [package(site, name) for name in ("sdk", "runtime", "contracts", "httpx")]
    hidden = [package(site, name) for name in ("services", "cli", "connectors", "bench")]
    monkeypatch.setattr(sys, "path", [str(site)])
    shown = exposure.__wrapped__()
    assert str(site) in shown.readable  # bound whole, with the platform's packages covered
    assert all(str(p) not in shown.hidden for p in allowed)
    assert all(str(p) in shown.hidden for p in hidden)


def test_source_tree_exposes_only_the_worker_packages(tmp_path: Path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    for name in ("sdk", "runtime", "contracts", "services", "tests"):
        package(tmp_path, name)
    (tmp_path / ".backfill").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    shown = exposure.__wrapped__()
    ours = sorted(p for p in shown.readable if p.startswith(str(tmp_path)))
    assert ours == [str(tmp_path / n) for n in ("contracts", "runtime", "sdk")]


def test_standard_library_rule_leaves_its_site_packages_out(monkeypatch):
    monkeypatch.setattr(sys, "path", [])
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shown = exposure.__wrapped__()
    assert str(stdlib) in shown.readable
    assert str(stdlib / "site-packages") in shown.hidden
    assert str(stdlib / "site-packages") not in shown.readable
