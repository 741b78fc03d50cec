"""The sandbox's request rules in isolation: the long-line check is linear and means what it
meant, the validator enforces the model's maxima and patterns, identities are checked before
they are stored, and a real AWS target names a broken AWS_PROFILE (issue 16)."""

from __future__ import annotations

import re
import time

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigurationError
from toolkit.sandbox.ses_checks import long_line
from toolkit.sandbox.ses_limits import (
    configuration_set_name_problem,
    headers_problem,
    identity_problem,
    send_problem,
    tags_problem,
)
from toolkit.sandbox.validation import ServiceValidators, ValidationError
from toolkit.targets import AwsTarget

# What "a line over 1,000 octets" meant before the check was made linear (the definition).
_REFERENCE = re.compile(rb"[^\r\n]{999}")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1200), st.sampled_from([b"\r\n", b"\n", b"\r", b""])),
        max_size=6,
    )
)
def test_long_line_means_what_the_regular_expression_meant(
    pieces: list[tuple[int, bytes]],
) -> None:
    raw = b"".join(b"x" * n + end for n, end in pieces)
    assert long_line(raw) == (_REFERENCE.search(raw) is not None)


def test_long_line_is_linear() -> None:
    """5 MB of 998-octet lines took ~20 s (each byte re-scanned up to 999 times)."""
    raw = (b"y" * 996 + b"\r\n") * 5000
    started = time.perf_counter()
    assert not long_line(raw)
    assert time.perf_counter() - started < 1.0


@pytest.fixture(scope="module")
def validators() -> ServiceValidators:
    return ServiceValidators(botocore.session.get_session().get_service_model("sesv2"))


def _simple(**message: object) -> dict[str, object]:
    return {"Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {}, **message}}}


def test_the_validator_enforces_list_and_string_maxima(validators: ServiceValidators) -> None:
    send = validators["SendEmail"]
    with pytest.raises(ValidationError) as error:
        send.params(_simple(Headers=[{"Name": "X-A", "Value": "v"}] * 16))
    assert str(error.value) == (
        "1 validation error detected: Value at 'content.simple.headers' failed to satisfy "
        "constraint: Member must have length less than or equal to 15"
    )
    with pytest.raises(ValidationError, match=r"headers\.1\.member\.value.*995"):
        send.params(_simple(Headers=[{"Name": "X-A", "Value": "v" * 996}]))
    with pytest.raises(ValidationError, match="regular expression pattern"):
        send.params(_simple(Headers=[{"Name": "X:A", "Value": "v"}]))
    send.params(_simple(Headers=[{"Name": "X-A", "Value": "v" * 995}] * 15))


def test_the_validator_enforces_integer_maxima(validators: ServiceValidators) -> None:
    create = validators["CreateConfigurationSet"]
    with pytest.raises(ValidationError, match="less than or equal to 50400"):
        create.params(
            {"ConfigurationSetName": "a", "DeliveryOptions": {"MaxDeliverySeconds": 10**6}}
        )


@pytest.mark.parametrize(
    ("identity", "problem"),
    [
        ("x y@", "Invalid email address x y@."),
        ("user@", "Invalid email address user@."),
        ("@example.com", "Invalid email address @example.com."),
        ("a b.test", "Invalid domain name a b.test."),
        ("ops@corp.test", None),
        ("corp.test", None),
        ("mail.corp-1.test.", None),
    ],
)
def test_identities_are_checked_before_they_are_stored(identity: str, problem: str | None) -> None:
    assert identity_problem(identity) == problem


def test_header_tag_and_configuration_set_rules() -> None:
    assert headers_problem([{"Name": "message-id", "Value": "<x@y>"}]) == (
        "Header 'message-id' can't be set as a custom header."
    )
    assert headers_problem([{"Name": "X-A", "Value": "v" * 993}]) is None
    assert "996" in (headers_problem([{"Name": "X-AB", "Value": "v" * 993}]) or "")
    assert tags_problem([{"Name": "ok_1-2", "Value": "a b"}]) is not None
    assert tags_problem([{"Name": "ok_1-2", "Value": "x" * 257}]) is not None
    assert tags_problem([{"Name": "ok_1-2", "Value": "x" * 256}]) is None
    assert configuration_set_name_problem("x" * 64) is None
    assert configuration_set_name_problem("x" * 65) is not None
    bulk = {"BulkEmailEntries": [{"ReplacementHeaders": [{"Name": "To", "Value": "a@b.c"}]}]}
    assert send_problem(bulk) == "Header 'To' can't be set as a custom header."


def test_a_real_aws_target_names_a_broken_aws_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path) + "/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path) + "/credentials")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(ConfigurationError) as refused:
        AwsTarget(region="eu-west-1").make_client("sesv2")
    assert str(refused.value).startswith("AWS_PROFILE='no-such-profile' names a profile")
    # the sandbox's own targets do not read it
    target = AwsTarget(
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:1",
        access_key_id="AKIAX",
        secret_access_key="s",
        ignore_aws_config=True,
    )
    assert target.make_client("sesv2") is not None
