"""Transports: one module per provider API, behind the protocol in :mod:`.base`.

============  ===========================  =========  ==============
``via``       provider call                max_batch  content mode
============  ===========================  =========  ==============
``ses``       SES v2 SendEmail             1          FIELDS (Raw with attachments)
``ses-bulk``  SES v2 SendBulkEmail         50         TEMPLATE
``pinpoint``  Pinpoint SendMessages        100        TEMPLATE (legacy: end of support)
``smtp``      SMTP (SES's or any server)   1          RAW
============  ===========================  =========  ==============

Usage::

    transport = make_transport("ses", AwsTarget(region="eu-west-1"), workers=8)
    transport = make_transport("smtp", smtp_target_for(sandbox), workers=16)
"""

from __future__ import annotations

from typing import Any

from toolkit.errors import ConfigurationError
from toolkit.transports.base import BaseTransport, Quota, Reply, Transport, Verdict

__all__ = [
    "VIAS",
    "BaseTransport",
    "Quota",
    "Reply",
    "Transport",
    "Verdict",
    "make_transport",
]

VIAS: tuple[str, ...] = ("ses", "ses-bulk", "pinpoint", "smtp")


def make_transport(via: str, target: Any, *, workers: int = 1, **options: Any) -> Transport:
    """The transport for ``via`` pointed at ``target``, ready for ``workers`` threads.

    ``target`` is an :class:`~toolkit.targets.AwsTarget` for ses/ses-bulk/pinpoint and an
    :class:`~toolkit.targets.SmtpTarget` for smtp. ``options`` go to the transport's
    constructor (``extra_params``, ``inline_templates``, ``quota``, ...); an unknown one raises
    TypeError. Raises ConfigurationError for an unknown ``via`` or a target of the wrong kind.
    """
    from toolkit.targets import AwsTarget, SmtpTarget

    if via not in VIAS:
        raise ConfigurationError(f"via must be one of {', '.join(VIAS)}; got {via!r}")
    if workers < 1:
        raise ConfigurationError("workers must be at least 1")
    if via == "smtp":
        if not isinstance(target, SmtpTarget):
            raise ConfigurationError("via='smtp' needs an SmtpTarget (host, port, credentials)")
        from toolkit.transports.smtp import SmtpTransport

        return SmtpTransport(target, **options)
    if not isinstance(target, AwsTarget):
        raise ConfigurationError(f"via={via!r} needs an AwsTarget (region, profile or endpoint)")
    options.setdefault("owns_client", target.client is None)
    if via == "pinpoint":
        from toolkit.transports.pinpoint import PinpointTransport

        options.setdefault("application_id", target.pinpoint_app_id)
        return PinpointTransport(target.make_client("pinpoint", workers=workers), **options)
    client = target.make_client("sesv2", workers=workers)
    if via == "ses-bulk":
        from toolkit.transports.ses_bulk import SesBulkTransport

        return SesBulkTransport(client, **options)
    from toolkit.transports.ses import SesTransport

    return SesTransport(client, **options)
