"""What the fast client takes from the boto3 client it wraps, and when it hands over instead.

The fast client must be boto3 on the wire in every configuration it accepts, so it decides
nothing that boto3 already decides. Everything that shapes a request comes from the boto3
client it is built from:

* **the endpoint of each operation**: botocore's endpoint ruleset, asked the way a boto3 call
  asks it (FIPS, dual-stack, ``AWS_ENDPOINT_URL_SESV2`` / ``AWS_ENDPOINT_URL`` / the
  ``services`` section of the config file, a custom ``endpoint_url`` with or without a base
  path, partitions such as ``aws-cn``), with the signing region and name the ruleset gives;
* **the credentials**: the client's own provider object, read on every request, so
  assume-role, SSO and instance-role credentials refresh as they do under boto3;
* **the HTTP settings**: timeouts, the CA bundle (``verify=``, ``AWS_CA_BUNDLE``, the profile's
  ``ca_bundle``, ``REQUESTS_CA_BUNDLE``), the client certificate and the socket options
  (``tcp_keepalive``), as botocore's HTTP session holds them.

Several of these live in botocore's private attributes, which is why the installed botocore is
checked against :data:`TESTED_BOTOCORE` (the minor versions the differential tests ran
against); outside it, or when a setting is one the fast client does not implement (a proxy, a
signature other than SigV4, host prefixes, checksums, compression), :func:`handover_reason`
says why and :func:`toolkit.aws.client.make_client` returns the plain boto3 client with one
:class:`FastClientHandoverWarning`. An operation the fast client cannot do on its own (SES
multi-region ``EndpointId``) is passed to the boto3 client call by call.

Usage::

    reason = handover_reason(boto3_client)          # None: the fast client may take over
    http = http_settings(boto3_client)              # timeouts, CA bundle, client cert ...
    where = operation_endpoint(boto3_client, op_model)   # URL and signing scope of one call
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import botocore
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel

__all__ = [
    "TESTED_BOTOCORE",
    "FastClientHandoverWarning",
    "HttpSettings",
    "OperationEndpoint",
    "Unsupported",
    "botocore_is_tested",
    "client_credentials",
    "handover_reason",
    "http_settings",
    "operation_endpoint",
    "sdk_request_header",
    "ssl_context",
]

# The botocore minor versions the fast client was compared with, byte for byte, by the
# differential tests (tests/integration/test_fastaws_differential.py): 1.40 is the oldest
# pyproject allows, 1.44 the newest released when this was written. The bounds are inclusive.
TESTED_BOTOCORE = ((1, 40), (1, 44))
_PROTOCOLS = ("rest-json",)
_SIGV4 = (None, "v4", "sigv4")


class FastClientHandoverWarning(UserWarning):
    """The fast client handed a client over to plain boto3 (it would not match boto3 there)."""


class Unsupported(Exception):
    """A setting or an operation the fast client does not reproduce; the message says which."""


def botocore_is_tested(version: str | None = None) -> bool:
    """True when ``version`` (default: the installed botocore's) is within
    :data:`TESTED_BOTOCORE`."""
    parts = (version or botocore.__version__).split(".")
    try:
        minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return False
    low, high = TESTED_BOTOCORE
    return low <= minor <= high


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How boto3 would connect: what its HTTP session was configured with."""

    verify: bool | str  # True (botocore's default bundle), False, or a CA file/directory
    cert_file: str | None
    key_file: str | None
    socket_options: tuple[tuple[int, int, int], ...]
    connect_timeout: float | None
    read_timeout: float | None
    max_connections: int


def _http_session(real: Any) -> Any:
    try:
        return real._endpoint.http_session
    except AttributeError:
        raise Unsupported("this botocore keeps its HTTP session elsewhere") from None


def http_settings(real: Any) -> HttpSettings:
    """The HTTP settings of a boto3 client (raises :class:`Unsupported` if unreadable)."""
    session = _http_session(real)
    try:
        timeout = session._timeout
        if isinstance(timeout, int | float):
            connect = read = float(timeout)
        else:  # urllib3's Timeout
            connect, read = timeout.connect_timeout, timeout.read_timeout
        return HttpSettings(
            verify=session._verify,
            cert_file=session._cert_file,
            key_file=session._key_file,
            socket_options=tuple(tuple(option) for option in session._socket_options),
            connect_timeout=connect,
            read_timeout=read,
            max_connections=int(session._max_pool_connections),
        )
    except AttributeError as exc:
        raise Unsupported(f"cannot read this botocore's HTTP settings ({exc})") from None


def ssl_context(settings: HttpSettings) -> ssl.SSLContext:
    """A client TLS context that trusts and presents what boto3's would."""
    if settings.verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        bundle = get_cert_path(settings.verify)
        if os.path.isdir(bundle):
            context = ssl.create_default_context(capath=bundle)
        else:
            context = ssl.create_default_context(cafile=bundle)
    if settings.cert_file:
        context.load_cert_chain(settings.cert_file, settings.key_file)
    return context


def proxy_for(real: Any, url: str) -> str | None:
    """The proxy boto3 would use for ``url`` (its configuration, or the environment's)."""
    session = _http_session(real)
    try:
        return session._proxy_config.proxy_url_for(url)
    except AttributeError:
        raise Unsupported("cannot read this botocore's proxy settings") from None


def client_credentials(real: Any) -> Any:
    """The credentials object the boto3 client signs with (None when it has none).

    The very object boto3 holds, not a copy: reading it on every request refreshes
    temporary credentials exactly when boto3 would.
    """
    try:
        return real._request_signer._credentials
    except AttributeError:
        raise Unsupported("cannot read this botocore's credentials") from None


def handover_reason(real: Any) -> str | None:
    """Why the fast client must not stand in for this boto3 client, or None when it may."""
    if not botocore_is_tested():
        low, high = TESTED_BOTOCORE
        return (
            f"botocore {botocore.__version__} is outside the versions the fast client was "
            f"tested with ({low[0]}.{low[1]}–{high[0]}.{high[1]})"
        )
    model = real.meta.service_model
    if model.resolved_protocol not in _PROTOCOLS:
        return f"{model.service_name} speaks {model.resolved_protocol}, not rest-json"
    if model.signature_version not in _SIGV4:
        return f"{model.service_name} signs with {model.signature_version}, not SigV4"
    try:
        proxy = proxy_for(real, real.meta.endpoint_url)
        http_settings(real)
        client_credentials(real)
    except Unsupported as exc:
        return str(exc)
    if proxy:
        return f"a proxy is configured for {urlsplit(real.meta.endpoint_url).hostname}"
    return None


@dataclass(frozen=True, slots=True)
class OperationEndpoint:
    """Where one operation goes and how it is signed, as botocore resolves it."""

    url: str
    signing_region: str
    signing_name: str


def operation_endpoint(real: Any, operation: OperationModel) -> OperationEndpoint:
    """Resolve ``operation``'s endpoint with the client's own ruleset resolver.

    Raises :class:`Unsupported` for what the fast client does not do (the call then goes
    through boto3), and whatever botocore raises for an unresolvable endpoint (as the boto3
    call would).
    """
    auth = getattr(operation, "resolved_auth_type", None) or operation.auth_type
    if auth not in _SIGV4:
        raise Unsupported(f"{operation.name} is signed with {auth}")
    if operation.endpoint and operation.endpoint.get("hostPrefix"):
        raise Unsupported(f"{operation.name} has a host prefix")
    if operation.http_checksum_required or operation.http_checksum:
        raise Unsupported(f"{operation.name} carries a checksum")
    if getattr(operation, "request_compression", None):
        raise Unsupported(f"{operation.name} may be compressed")
    if operation.has_streaming_input or operation.has_event_stream_input:
        raise Unsupported(f"{operation.name} streams its input")
    context: dict[str, Any] = {}
    try:
        url, headers, _ = real._resolve_endpoint_ruleset(operation, {}, context)
    except AttributeError:
        raise Unsupported("cannot resolve endpoints with this botocore") from None
    if headers:
        raise Unsupported(f"{operation.name}'s endpoint adds headers")
    if context.get("auth_type") not in _SIGV4:
        raise Unsupported(f"{operation.name}'s endpoint asks for {context.get('auth_type')}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment:
        raise Unsupported(f"endpoint {url} has a query or an unusual scheme")
    if proxy_for(real, url):
        raise Unsupported(f"a proxy is configured for {parts.hostname}")
    signing = context.get("signing") or {}
    return OperationEndpoint(
        url,
        signing.get("region") or real.meta.region_name,
        signing.get("signing_name") or real.meta.service_model.signing_name,
    )


def sdk_request_header() -> str:
    """``amz-sdk-request`` of a first attempt with retries off, as this botocore writes it.

    botocore 1.44 names the attempt budget on the first attempt already (``max=1``); older
    versions only once a retry is considered.
    """
    from botocore.retries import standard

    return "attempt=1; max=1" if hasattr(standard, "MaxAttemptsSeeder") else "attempt=1"


def default_socket_options() -> tuple[tuple[int, int, int], ...]:
    """botocore's default: Nagle off."""
    return ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
