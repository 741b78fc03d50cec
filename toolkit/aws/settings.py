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

Guarded by what it relies on, not by a version range: at start-up :func:`dependency_fingerprint`
hashes the input shapes of the operations the transports call (what the compiled serializer
writes), the endpoint ruleset's parameters (what an endpoint may depend on) and the signer's
name and version, and compares them with :data:`RECORDED_FINGERPRINTS`, taken from the models
the differential test (tests/integration/test_fastaws_differential.py) ran against. A new
botocore with the same models keeps the fast client; a changed part hands the client over.
The private attributes it reads (HTTP session, credentials, ruleset resolver) are probed and
hand over when missing. So a changed part, a setting the fast client does not implement (a
proxy, a signature other than SigV4, host prefixes, checksums, compression), or a service
without a recorded fingerprint on a botocore outside :data:`TESTED_BOTOCORE`, makes
:func:`handover_reason` say why, and :func:`toolkit.aws.client.make_client` returns the plain
boto3 client with one :class:`FastClientHandoverWarning`. An operation the fast client cannot
do on its own (SES multi-region ``EndpointId``) is passed to the boto3 client call by call.

Usage::

    reason = handover_reason(boto3_client)          # None: the fast client may take over
    http = http_settings(boto3_client)              # timeouts, CA bundle, client cert ...
    where = operation_endpoint(boto3_client, op_model)   # URL and signing scope of one call
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import botocore
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel

__all__ = [
    "FINGERPRINTED_OPERATIONS",
    "RECORDED_FINGERPRINTS",
    "TESTED_BOTOCORE",
    "FastClientHandoverWarning",
    "HttpSettings",
    "OperationEndpoint",
    "Unsupported",
    "botocore_is_tested",
    "client_credentials",
    "dependency_fingerprint",
    "fingerprint_changes",
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


# The operations the transports and the quota lookup call through the fast client.
FINGERPRINTED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "sesv2": ("SendEmail", "SendBulkEmail", "GetAccount", "GetEmailTemplate",
              "CreateEmailTemplate"),
    "pinpoint": ("SendMessages", "GetEmailTemplate", "CreateEmailTemplate"),
}  # fmt: skip

# dependency_fingerprint() of the models the differential test last ran against (botocore
# 1.44.18). After a differential run on a botocore whose models changed, record its values here
# (python -c "from toolkit.aws.settings import print_fingerprints; print_fingerprints()").
RECORDED_FINGERPRINTS: dict[str, dict[str, str]] = {
    "sesv2": {
        "SendEmail": "fbc4a36ecf168422",
        "SendBulkEmail": "8b5463e9242573f9",
        "GetAccount": "c89b41a97a76722a",
        "GetEmailTemplate": "42178dd63c9fac7e",
        "CreateEmailTemplate": "f2d0304c1e0f3068",
        "endpoint parameters": "75a4f4996fdacb57",
        "signer": "0ffbe669fd2c62a4",
    },
    "pinpoint": {
        "SendMessages": "ec776ea80094d35d",
        "GetEmailTemplate": "6b96c87fe6c53cda",
        "CreateEmailTemplate": "a8b920b23935eca1",
        "endpoint parameters": "f651295dcba4be4e",
        "signer": "d1b129cf2b6be244",
    },
}

# Keys of the raw model that change nothing on the wire (botocore validates neither enums
# nor patterns), so a documentation update does not turn the fast client off.
_NOT_ON_THE_WIRE = frozenset({
    "documentation", "documentationUrl", "deprecated", "deprecatedMessage", "enum", "pattern",
    "examples", "sensitive", "output", "errors", "alias",
})  # fmt: skip


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


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _wire(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k not in _NOT_ON_THE_WIRE}


def _shapes_from(name: str, shapes: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Every shape reachable from ``name`` (recursion-safe), without documentation."""
    if name in out or name not in shapes:
        return
    shape = shapes[name]
    out[name] = {
        k: (_wire(v) if k == "member" or k in ("key", "value") else
            {m: _wire(spec) for m, spec in v.items()} if k == "members" else v)
        for k, v in _wire(shape).items()
    }  # fmt: skip
    refs: list[Mapping[str, Any]] = list((shape.get("members") or {}).values())
    refs += [shape[k] for k in ("member", "key", "value") if k in shape]
    for ref in refs:
        _shapes_from(ref["shape"], shapes, out)


def dependency_fingerprint(real: Any) -> dict[str, str]:
    """What the fast client relies on for this client's service, one short hash per part:
    each fingerprinted operation (its HTTP binding and every input shape it reaches), the
    endpoint ruleset's parameters, and the signer's name and version.

    Raises :class:`Unsupported` when this botocore keeps them where it cannot look.
    """
    model = real.meta.service_model
    try:
        description = model._service_description
        operations = description["operations"]
        shapes = description["shapes"]
        parameters = real._ruleset_resolver._provider.ruleset.parameters
    except (AttributeError, KeyError, TypeError):
        raise Unsupported("cannot read this botocore's service model or endpoint rules") from None
    parts: dict[str, str] = {}
    for name in FINGERPRINTED_OPERATIONS.get(model.service_name, ()):
        operation = operations.get(name)
        if operation is None:
            parts[name] = "missing"
            continue
        reached: dict[str, Any] = {}
        input_ref = operation.get("input") or {}
        if "shape" in input_ref:
            _shapes_from(input_ref["shape"], shapes, reached)
        parts[name] = _digest({"operation": _wire(operation), "shapes": reached})
    parts["endpoint parameters"] = _digest({
        name: [getattr(p, "parameter_type", None), getattr(p, "builtin", None),
               getattr(p, "default", None), getattr(p, "required", None)]
        for name, p in parameters.items()
    })  # fmt: skip
    metadata = model.metadata
    parts["signer"] = _digest([metadata.get("signatureVersion"), metadata.get("signingName"),
                               metadata.get("auth"), model.signing_name])  # fmt: skip
    return parts


def fingerprint_changes(real: Any) -> list[str] | None:
    """The parts that differ from :data:`RECORDED_FINGERPRINTS` (empty: none), or None when
    nothing is recorded for this service."""
    recorded = RECORDED_FINGERPRINTS.get(real.meta.service_model.service_name)
    if recorded is None:
        return None
    current = dependency_fingerprint(real)
    return [part for part, digest in recorded.items() if current.get(part) != digest]


def print_fingerprints() -> None:  # pragma: no cover - a maintainer's tool
    """Print the current models' fingerprints, to paste into RECORDED_FINGERPRINTS."""
    import boto3

    for service in FINGERPRINTED_OPERATIONS:
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")  # fmt: skip
        print(service, json.dumps(dependency_fingerprint(client), indent=4))


def handover_reason(real: Any) -> str | None:
    """Why the fast client must not stand in for this boto3 client, or None when it may."""
    try:
        changed = fingerprint_changes(real)
    except Unsupported as exc:
        return str(exc)
    if changed is None and not botocore_is_tested():
        low, high = TESTED_BOTOCORE
        return (
            f"no recorded fingerprint for {real.meta.service_model.service_name} and botocore "
            f"{botocore.__version__} is outside the versions the fast client was tested with "
            f"({low[0]}.{low[1]}–{high[0]}.{high[1]})"
        )
    if changed:
        return (
            f"botocore {botocore.__version__} changed what the fast client relies on "
            f"({', '.join(changed)} differ from the models the differential test ran against)"
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
