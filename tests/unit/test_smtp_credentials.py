"""The SES SMTP password derivation against known vectors and its documented shape."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.aws.smtp_password import derive_ses_smtp_password

# Vectors from terraform-provider-aws (internal/service/iam/access_key_test.go,
# TestSESSMTPPasswordFromSecretKeySigV4): an independent implementation that is used to log in to
# real SES, so agreeing with it checks the algorithm, not just this code's stability.
TERRAFORM_VECTORS = [
    ("eu-central-1", "some+secret+key", "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"),
    ("eu-central-1", "another+secret+key", "BBbphbrQmrKMx42d1N6+C7VINYEBGI5v9VsZeTxwskfh"),
    ("us-west-1", "some+secret+key", "BH+jbMzper5WwlwUar9E1ySBqHa9whi0GPo+sJ0mVYJj"),
    ("us-west-1", "another+secret+key", "BKVmjjMDFk/qqw8EROW99bjCS65PF8WKvK5bSr4Y6EqF"),
]


@pytest.mark.parametrize(("region", "secret", "expected"), TERRAFORM_VECTORS)
def test_matches_terraform_provider_vectors(region: str, secret: str, expected: str) -> None:
    assert derive_ses_smtp_password(secret, region) == expected


def _reference(secret: str, region: str) -> str:
    """The algorithm as written in AWS's documentation, step by step."""

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k_date = h(("AWS4" + secret).encode(), "11111111")
    k_region = h(k_date, region)
    k_service = h(k_region, "ses")
    k_terminal = h(k_service, "aws4_request")
    k_message = h(k_terminal, "SendRawEmail")
    return base64.b64encode(b"\x04" + k_message).decode()


@given(
    secret=st.text(min_size=1, max_size=64),
    region=st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"]),
)
def test_shape_and_documented_steps(secret: str, region: str) -> None:
    password = derive_ses_smtp_password(secret, region)
    raw = base64.b64decode(password, validate=True)
    assert len(password) == 44
    assert len(raw) == 33
    assert raw[0] == 0x04
    assert password == _reference(secret, region)


def test_region_changes_the_password() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert derive_ses_smtp_password(secret, "us-east-1") != derive_ses_smtp_password(
        secret, "eu-west-1"
    )


@pytest.mark.parametrize(("secret", "region"), [("", "us-east-1"), ("secret", "")])
def test_empty_inputs_are_configuration_errors(secret: str, region: str) -> None:
    with pytest.raises(ValueError):
        derive_ses_smtp_password(secret, region)
