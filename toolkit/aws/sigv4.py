"""AWS Signature Version 4 for JSON APIs, with the signing key derived once per day.

botocore's ``SigV4Auth`` re-derives the signing key (four HMACs) and rebuilds the canonical
request through several generic helpers on every call; that is most of what boto3 spends on
signing per request. The key only changes with the secret, the UTC date, the
region and the service, so :class:`SigV4Signer` keeps the last one and the per-request work is
one SHA-256 of the body, one of the canonical request and one HMAC.

The output is byte-for-byte what ``botocore.auth.SigV4Auth`` produces for the same request and
time (``tests/unit/test_fastaws.py`` checks it), including botocore's header selection: every
header except those on the installed botocore's unsigned list (``User-Agent``, the hop-by-hop
ones) is signed.

Usage::

    signer = SigV4Signer("ses", "us-east-1")
    auth = signer.authorization(creds, "20260101T000000Z", "POST", "/v2/email/outbound-emails",
                                "", {"content-type": "application/json", "host": "h",
                                     "x-amz-date": "20260101T000000Z"}, body)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.utils import normalize_url_path

__all__ = ["UNSIGNED_HEADERS", "Credentials", "SigV4Signer", "canonical_path", "canonical_query"]

# Never part of a signature: the installed botocore's own list (it grew between 1.40 and
# 1.44), plus Content-Length, which the HTTP layer adds after signing, as in botocore.
UNSIGNED_HEADERS = frozenset(SIGNED_HEADERS_BLACKLIST) | {"content-length"}

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_sha256 = hashlib.sha256


class Credentials(Protocol):
    """What a signer reads: botocore's ``ReadOnlyCredentials`` has exactly these."""

    access_key: str
    secret_key: str
    token: str | None


def canonical_path(path: str) -> str:
    """The URI path as SigV4 (non-S3) wants it: normalised, then percent-encoded again."""
    return quote(normalize_url_path(path), safe="/~")


def canonical_query(encoded_query: str) -> str:
    """Sort an already percent-encoded query string the way botocore does (by key, then value)."""
    if not encoded_query:
        return ""
    pairs = [pair.partition("=")[::2] for pair in encoded_query.split("&")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


@dataclass(slots=True)
class _Key:
    datestamp: str
    secret_hash: bytes = field(repr=False)
    key: bytes = field(repr=False)


class SigV4Signer:
    """Signs requests for one service in one region; keeps the last signing key."""

    __slots__ = ("_cached", "_region", "_scope_tail", "_service")

    def __init__(self, service: str, region: str) -> None:
        self._service = service
        self._region = region
        self._scope_tail = f"/{region}/{service}/aws4_request"
        self._cached: _Key | None = None

    def __repr__(self) -> str:
        return f"SigV4Signer(service={self._service!r}, region={self._region!r})"

    def signing_key(self, secret_key: str, datestamp: str) -> bytes:
        """The derived key for this secret and UTC date (cached: it changes once a day)."""
        # Compare a digest, not the secret itself, so the cache never holds the secret.
        secret_hash = _sha256(secret_key.encode()).digest()
        cached = self._cached
        if (
            cached is not None
            and cached.datestamp == datestamp
            and cached.secret_hash == secret_hash
        ):
            return cached.key
        k = hmac.new(f"AWS4{secret_key}".encode(), datestamp.encode(), _sha256).digest()
        k = hmac.new(k, self._region.encode(), _sha256).digest()
        k = hmac.new(k, self._service.encode(), _sha256).digest()
        k = hmac.new(k, b"aws4_request", _sha256).digest()
        # A single attribute store is atomic, so threads never see half a key.
        self._cached = _Key(datestamp, secret_hash, k)
        return k

    def authorization(
        self,
        credentials: Credentials,
        amz_date: str,
        method: str,
        canonical_uri: str,
        canonical_querystring: str,
        headers: dict[str, str],
        body: bytes,
    ) -> str:
        """The ``Authorization`` header value.

        ``headers`` maps lower-case names to values and must already hold ``host``,
        ``x-amz-date`` (= ``amz_date``) and, with temporary credentials,
        ``x-amz-security-token``; names in :data:`UNSIGNED_HEADERS` are skipped.
        ``canonical_uri``/``canonical_querystring`` come from :func:`canonical_path` and
        :func:`canonical_query`.
        """
        names = sorted(n for n in headers if n not in UNSIGNED_HEADERS)
        signature = self.signature(
            credentials.secret_key,
            amz_date,
            method,
            canonical_uri,
            canonical_querystring,
            names,
            headers,
            body,
        )
        scope = amz_date[:8] + self._scope_tail
        signed_headers = ";".join(names)
        return (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )

    def signature(
        self,
        secret_key: str,
        amz_date: str,
        method: str,
        canonical_uri: str,
        canonical_querystring: str,
        names: list[str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """The hex signature over the headers ``names`` (sorted, lower-case, all in
        ``headers``): what :meth:`authorization` signs, and what a server recomputes from the
        ``SignedHeaders`` a client listed (the sandbox checks requests with it)."""
        canonical_headers = "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names)
        payload_hash = _sha256(body).hexdigest() if body else _EMPTY_SHA256
        canonical_request = "\n".join(
            (
                method,
                canonical_uri,
                canonical_querystring,
                canonical_headers,
                ";".join(names),
                payload_hash,
            )
        )
        datestamp = amz_date[:8]
        string_to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{datestamp}{self._scope_tail}\n"
            f"{_sha256(canonical_request.encode()).hexdigest()}"
        )
        key = self.signing_key(secret_key, datestamp)
        return hmac.new(key, string_to_sign.encode(), _sha256).hexdigest()
