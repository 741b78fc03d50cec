"""The sandbox as a send target: its endpoints, its keys, and its own policy as the quota.

:class:`~toolkit.sandbox.Sandbox` answers the :class:`~toolkit.targets.Target` questions with
these functions, so ``send(df, target=sandbox)`` needs nothing else; they take any object with
the sandbox's attributes (a sandbox in another process, as the benchmarks run it).

Usage::

    with Sandbox() as sandbox:
        aws = aws_target_for(sandbox)      # AwsTarget at sandbox.endpoint_url
        smtp = smtp_target_for(sandbox)    # SmtpTarget with STARTTLS + AUTH, pinned certificate
"""

from __future__ import annotations

from typing import Any

from toolkit.targets import AwsTarget, Quota, SmtpTarget

__all__ = ["aws_target_for", "quota_of", "sandbox_cert_pem", "smtp_target_for"]


def aws_target_for(sandbox: Any, **overrides: Any) -> AwsTarget:
    """An :class:`AwsTarget` pointing at a running sandbox (its endpoint, keys and app id)."""
    info = sandbox.info() if hasattr(sandbox, "info") else {}
    values: dict[str, Any] = {
        "region": sandbox.region,
        "endpoint_url": sandbox.endpoint_url,
        "access_key_id": sandbox.access_key_id,
        "secret_access_key": sandbox.secret_access_key,
        "pinpoint_app_id": info.get("pinpoint_app_id"),
        "ignore_aws_config": True,  # AWS_PROFILE and ~/.aws are for AWS, not for the sandbox
    }
    values.update(overrides)
    return AwsTarget(**values)


def smtp_target_for(sandbox: Any, **overrides: Any) -> SmtpTarget:
    """An :class:`SmtpTarget` for a running sandbox's SMTP server (STARTTLS + AUTH).

    Trusts exactly the sandbox's certificate when the sandbox exposes it (``cert_pem`` or
    ``certificate.cert_pem``); otherwise verification is off, which only loopback allows.
    """
    values: dict[str, Any] = {
        "host": sandbox.smtp_host,
        "port": sandbox.smtp_port,
        "username": sandbox.smtp_username,
        "password": sandbox.smtp_password,
        "tls": "starttls",
        "ca_pem": sandbox_cert_pem(sandbox),
    }
    values.update(overrides)
    return SmtpTarget(**values)


def sandbox_cert_pem(sandbox: Any) -> str | None:
    """The PEM certificate a sandbox's SMTP server presents, when it exposes one."""
    smtp = getattr(sandbox, "smtp", None)
    holders = (sandbox, getattr(sandbox, "certificate", None), getattr(sandbox, "tls", None),
               getattr(smtp, "certificate", None) if smtp is not None else None)  # fmt: skip
    for holder in holders:
        pem = getattr(holder, "cert_pem", None) if holder is not None else None
        if isinstance(pem, bytes):
            return pem.decode("ascii")
        if isinstance(pem, str):
            return pem
    return None


def quota_of(policy: Any) -> Quota:
    """The sandbox policy's limits as a :class:`Quota` (what its GetAccount reports)."""
    q = policy.quota()
    return Quota(q.max_send_rate, q.max_24_hour_send, q.sent_last_24_hours)
