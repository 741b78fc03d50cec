"""The sandbox checks SigV4 signatures as AWS does: its own key pair, its Region, the time.

A request to the sandbox's HTTP API must be signed with the sandbox's access key and secret
(``Sandbox.access_key_id`` / ``secret_access_key``; ``Sandbox.client()`` and the sandbox's
targets use them), scoped to its Region and to the right service (``ses`` for SES v2,
``mobiletargeting`` for Pinpoint), within 15 minutes of its clock. Otherwise it answers as AWS
answers (sources in ``AWS_SIGNATURE_ERRORS``, :mod:`toolkit.facts`):

* an access key it did not issue, or a session token (it issues none):
  403 ``UnrecognizedClientException`` "The security token included in the request is invalid."
* a signature that does not match (wrong secret, a signed header changed, wrong scope):
  403 ``SignatureDoesNotMatch`` "The request signature we calculated does not match ...";
* a date too far from now: 403 ``InvalidSignatureException`` "Signature expired: ...";
* an ``Authorization`` header that is not SigV4: 403 ``IncompleteSignature``.

The signature is recomputed with :class:`toolkit.aws.sigv4.SigV4Signer` from the headers the
client listed in ``SignedHeaders``, the path and query as they arrived, and the body; the
signing key is derived once a day, so a check costs a few hashes.

Usage::

    check = SignatureCheck(access_key_id, secret_access_key, "us-east-1")
    refusal = check("POST", "/v2/email/outbound-emails", headers, body)   # None when valid
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from collections.abc import Callable, Mapping

from toolkit.aws.sigv4 import SigV4Signer, canonical_path, canonical_query

__all__ = ["Refusal", "SignatureCheck"]

Refusal = tuple[int, str, str]  # HTTP status, error code, message

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request\s*,"
    r"\s*SignedHeaders=([a-z0-9;.\-_]+)\s*,\s*Signature=([0-9a-f]{64})\s*\Z"
)
_SKEW = 15 * 60
_SERVICES = (("/v2/", "ses"), ("/v1/", "mobiletargeting"))
_INVALID_TOKEN = (
    403,
    "UnrecognizedClientException",
    "The security token included in the request is invalid.",
)
_MISMATCH = (
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details.",
)


_STAMP = re.compile(r"\d{8}T\d{6}Z\Z")
_PATH_CACHE_MAX = 1024


def _amz_time(stamp: str) -> float | None:
    """Seconds since the epoch of an ``X-Amz-Date`` (``YYYYMMDDTHHMMSSZ``), or None."""
    if _STAMP.match(stamp) is None:
        return None
    fields = (stamp[0:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])
    return float(calendar.timegm((*map(int, fields), 0, 0, 0)))


def _stamp(seconds: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


class SignatureCheck:
    """Checks one request's SigV4 signature against one key pair (see the module docstring)."""

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._access_key_id = access_key_id
        self._secret = secret_access_key
        self._region = region
        self._clock = clock
        self._signers = {service: SigV4Signer(service, region) for _, service in _SERVICES}
        self._paths: dict[str, str] = {}  # canonical form of each path seen
        self._last_stamp: tuple[str, float | None] = ("", None)

    def __repr__(self) -> str:
        return f"SignatureCheck(access_key_id={self._access_key_id!r}, region={self._region!r})"

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Refusal | None:
        """None when the request is signed by this key pair, else AWS's refusal."""
        found = _AUTH.match(headers.get("authorization", ""))
        if found is None:
            return (
                403,
                "IncompleteSignature",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                "parameters (AWS4-HMAC-SHA256).",
            )
        key_id, datestamp, region, service, signed, signature = found.groups()
        if key_id != self._access_key_id or "x-amz-security-token" in headers:
            return _INVALID_TOKEN
        path, _, query = target.partition("?")
        if region != self._region:
            return (
                *_MISMATCH[:2],
                f"Credential should be scoped to a valid region, not '{region}'.",
            )
        expected = next((name for prefix, name in _SERVICES if path.startswith(prefix)), service)
        signer = self._signers.get(service)
        if service != expected or signer is None:
            return (
                *_MISMATCH[:2],
                f"Credential should be scoped to correct service: '{expected}'.",
            )
        amz_date = headers.get("x-amz-date", "")
        last = self._last_stamp  # most requests share their second with the one before
        when = last[1] if last[0] == amz_date else _amz_time(amz_date)
        self._last_stamp = (amz_date, when)
        names = signed.split(";")
        if when is None or not amz_date.startswith(datestamp) or "host" not in names:
            return _MISMATCH
        now = self._clock()
        if abs(now - when) > _SKEW:
            direction = "expired" if when < now else "not yet current"
            relation = "earlier" if when < now else "still later"
            sign = "-" if when < now else "+"
            bound = now - _SKEW if when < now else now + _SKEW
            return (
                403,
                "InvalidSignatureException",
                f"Signature {direction}: {amz_date} is now {relation} than {_stamp(bound)} "
                f"({_stamp(now)} {sign} 15 min.)",
            )
        if any(name not in headers for name in names) or names != sorted(names):
            return _MISMATCH
        canonical = self._paths.get(path)
        if canonical is None:
            if len(self._paths) >= _PATH_CACHE_MAX:
                self._paths.clear()
            canonical = self._paths[path] = canonical_path(path)
        computed = signer.signature(
            self._secret,
            amz_date,
            method,
            canonical,
            canonical_query(query),
            names,
            headers,
            body,
        )
        if not hmac.compare_digest(computed, signature):
            return _MISMATCH
        return None
