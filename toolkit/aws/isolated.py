"""A botocore/boto3 session that ignores the user's AWS configuration (the sandbox's).

The embedded sandbox needs no profile, config file or credential chain: it has its own keys
and its own endpoint. A session made the usual way still reads ``AWS_PROFILE`` and the shared
config files, so a missing or empty profile there stopped the sandbox with botocore's
``ProfileNotFound`` (issue 16, M6), and a profile's settings could leak into the clients aimed
at it. Real AWS targets keep the normal chain (and say which profile is missing); a target
asks for this one with ``AwsTarget(ignore_aws_config=True)``, as the sandbox's targets do.

Usage::

    session = isolated_session()                       # botocore: service models, endpoints
    client = isolated_boto3_session(key, secret, "us-east-1").client("sesv2", endpoint_url=url)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    import botocore.session

__all__ = ["isolated_boto3_session", "isolated_session"]


def isolated_session() -> botocore.session.Session:
    """A botocore session with no profile and no config or credentials file."""
    import botocore.session
    from botocore.configprovider import ConstantProvider

    session = botocore.session.Session()
    session.get_component("config_store").set_config_provider("profile", ConstantProvider(None))
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    return session


def isolated_boto3_session(
    access_key_id: str | None, secret_access_key: str | None, region: str | None, **kwargs: Any
) -> boto3.Session:
    """A boto3 session with exactly these keys and Region, blind to the user's AWS config."""
    import boto3

    return boto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
        botocore_session=isolated_session(),
        **kwargs,
    )
