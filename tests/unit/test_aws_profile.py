"""AWS_PROFILE naming a missing profile, or set but empty (issue 16 M6, the AWS side).

Before: "profile None is not in the AWS config files" — the profile came from AWS_PROFILE,
which the line did not name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.errors import ConfigurationError
from toolkit.targets import AwsTarget


@pytest.fixture(autouse=True)
def _no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("AWS_PROFILE", "nope", "AWS_PROFILE='nope' names a profile that is not in"),
        ("AWS_PROFILE", "", "AWS_PROFILE is set but empty"),
        ("AWS_DEFAULT_PROFILE", "gone", "AWS_DEFAULT_PROFILE='gone'"),
    ],
)
def test_a_profile_from_the_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        AwsTarget(region="eu-west-1").make_client("sesv2")
    assert needle in str(info.value) and "\n" not in str(info.value)
    assert "None" not in str(info.value)


def test_an_explicit_profile_is_named_as_given() -> None:
    with pytest.raises(ConfigurationError, match="profile 'prod' is not in"):
        AwsTarget(region="eu-west-1", profile="prod").make_client("sesv2")
