"""Project-wide checks: ruff and mypy are clean, and the public API changes only on purpose."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    done = subprocess.run(
        [ruff, "check", "toolkit", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_applied() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    done = subprocess.run(
        [ruff, "format", "--check", "toolkit", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    """The package ships ``py.typed``: users' type checkers read our annotations, so they
    must hold (settings in pyproject.toml's ``[tool.mypy]``)."""
    pytest.importorskip("mypy", reason="mypy is not installed (it comes with the [test] extra)")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "toolkit"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_public_names_are_pinned() -> None:
    assert sorted(toolkit.__all__) == [
        "AwsTarget",
        "ComposeSpec",
        "ConfigurationError",
        "EngineConfig",
        "MissingColumnError",
        "MissingDependencyError",
        "Outcome",
        "ProviderConfigurationError",
        "Quota",
        "RunSummary",
        "Sandbox",
        "SandboxError",
        "SendHandle",
        "SmtpTarget",
        "Status",
        "Target",
        "ToolkitError",
        "check",
        "plan_table",
        "preview",
        "send",
        "send_in_background",
        "send_partitioned",
    ]


def test_the_error_tree() -> None:
    assert issubclass(toolkit.ConfigurationError, toolkit.ToolkitError)
    assert issubclass(toolkit.ConfigurationError, ValueError)
    for leaf in (
        toolkit.MissingColumnError,
        toolkit.MissingDependencyError,
        toolkit.ProviderConfigurationError,
    ):
        assert issubclass(leaf, toolkit.ConfigurationError)
    assert issubclass(toolkit.SandboxError, toolkit.ToolkitError)


@pytest.mark.parametrize("name", toolkit.__all__)
def test_every_public_name_imports(name: str) -> None:
    assert getattr(toolkit, name) is not None
