"""SES SMTP credentials: derive the SMTP password from an IAM secret access key.

SES's SMTP interface does not take the secret key itself: the username is the access key id
and the password is a SigV4-style HMAC chain over fixed constants, prefixed with a version byte
(0x04, per Region). Both the SMTP transport (to log in to real SES from an access key pair) and
the sandbox SMTP server (to accept that same pair) use this one function, so they cannot drift.

Source: https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html (algorithm and constants),
checked 2026-11-26; the unit tests pin it to the vectors of terraform-provider-aws, an independent
implementation used against real SES.

Usage::

    password = derive_ses_smtp_password(secret_access_key, "eu-west-1")
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["SES_SMTP_PASSWORD_VERSION", "derive_ses_smtp_password"]

# Constants of AWS's documented derivation (they are not a date or a secret).
_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
SES_SMTP_PASSWORD_VERSION = 0x04


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def derive_ses_smtp_password(secret_access_key: str, region: str) -> str:
    """Return the SES SMTP password for ``secret_access_key`` in ``region``.

    The result is 44 base64 characters (1 version byte + a 32-byte HMAC). The same secret gives a
    different password in each Region, because SES SMTP credentials are per Region.

    Raises ValueError for an empty secret or Region (a configuration mistake, not a row problem).
    """
    if not secret_access_key:
        raise ValueError("secret_access_key must not be empty")
    if not region:
        raise ValueError("region must not be empty")
    signature = _sign(("AWS4" + secret_access_key).encode("utf-8"), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([SES_SMTP_PASSWORD_VERSION]) + signature).decode("ascii")
