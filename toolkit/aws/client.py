"""A fast drop-in subset of a boto3 client for the AWS JSON APIs the transports call.

Why: a boto3 ``sesv2.send_email`` spends about a millisecond of client CPU, which caps one
process at a few hundred requests per second, and threads sharing a client add nothing under
the GIL. A profile (``python benchmarks/fastaws_profile.py --profile`` prints the current
numbers) shows where it goes: urllib3/http.client (pool bookkeeping, ``email.parser`` for
headers, several sends), SigV4 (key derived on every call, generic canonicalisation), event
hooks, endpoint-ruleset resolution, retry bookkeeping and ``AWSRequest`` preparation; model
validation and serialisation grow with the request (a 50-entry ``SendBulkEmail``).

So :class:`FastClient` keeps the parts that make a call correct and drops the machinery
around them:

* **kept**: botocore's model validation (a compiled "surely valid" check, and botocore's own
  ``ParamValidator`` whenever that check is unsure, so errors are botocore's
  ``ParamValidationError``), botocore's serialisation (compiled per operation, byte-equal to
  its serializer, which still does query-string/header operations; :mod:`.serializer`),
  botocore's response parser (same return dict, ``ResponseMetadata`` with
  ``HTTPStatusCode`` and ``RetryAttempts=0``), the modeled error classes
  (``client.exceptions.TooManyRequestsException`` …, raised like boto3 raises them), SigV4
  with real credentials (identical signature, signing key derived once a day;
  :mod:`.sigv4`), real HTTP/1.1 on keep-alive sockets (TLS with certificate checks for AWS;
  :mod:`.http`), boto3's socket-error exceptions (``EndpointConnectionError``,
  ``ConnectTimeoutError``, ``ReadTimeoutError``, ``ConnectionClosedError``).
* **dropped**: event hooks (no plugins), per-call endpoint rules (the endpoint is resolved
  once; SES multi-region ``EndpointId`` is refused with ValueError), retries (the engine
  retries, with its own backoff and journal — a client that silently resends would break
  "never sent twice"), checksum/compression handlers (the SES v2 and Pinpoint operations
  declare none), proxies.

The benchmarks compare it with plain boto3 in the same run (``python -m benchmarks``, group
``ses``); ``benchmarks/results/`` holds the latest figures.

Any operation of the service model works (``__getattr__`` dispatch by boto3 method name);
other attributes (``meta``, ``exceptions``, ``get_paginator`` …) come from a real boto3
client created once.

Usage::

    client = make_client("sesv2", region="us-east-1", endpoint_url=sandbox.url,
                         credentials=Credentials("AKID", "secret"))
    client.send_email(FromEmailAddress=..., Destination=..., Content=...)
    try:
        ...
    except client.exceptions.TooManyRequestsException:
        ...
"""

from __future__ import annotations

import io
import platform
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import boto3
import botocore
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError, ParamValidationError
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence
from botocore.validate import ParamValidator

from toolkit.aws.http import ConnectionPool, Endpoint
from toolkit.aws.serializer import Check, CompiledRequest, compile_check
from toolkit.aws.sigv4 import SigV4Signer, canonical_path, canonical_query

__all__ = ["FastClient", "PreparedRequest", "default_endpoint", "make_client"]

# AWS's regional endpoints for the services the toolkit uses (the ruleset's answer for a
# standard partition with no FIPS/dual-stack), so no per-call endpoint resolution is needed.
_ENDPOINTS = {
    "sesv2": "https://email.{region}.amazonaws.com",
    "pinpoint": "https://pinpoint.{region}.amazonaws.com",
    "pinpoint-email": "https://email.{region}.amazonaws.com",
}
_SUPPORTED_PROTOCOLS = ("rest-json",)
_PATH_CACHE_MAX = 1024


def _always(value: Any) -> bool:
    return True


def default_endpoint(service: str, region: str) -> str | None:
    """The regional AWS endpoint for ``service``, or None when this module does not know it."""
    pattern = _ENDPOINTS.get(service)
    return pattern.format(region=region) if pattern else None


@dataclass(frozen=True, slots=True)
class _Operation:
    """What one API call needs, looked up once per operation instead of once per call."""

    name: str
    model: OperationModel
    input_shape: Shape | None
    output_shape: Shape | None
    method: str
    streaming_output: bool
    check: Check  # "surely valid" fast predicate; botocore's validator decides otherwise
    compiled: CompiledRequest | None  # None: botocore's serializer builds this request
    # Members that would make boto3 pick another endpoint (SES multi-region EndpointId).
    routing_members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated, serialised, signed request: what goes on the wire (minus Host/length)."""

    method: str
    target: str  # path and query string, as in the request line
    headers: dict[str, str] = field(repr=False)  # holds the Authorization/session token
    body: bytes = field(repr=False)


class _Headers(dict[str, str]):
    """Response headers with lower-case keys, looked up case-insensitively (as boto3's are)."""

    def __getitem__(self, key: str) -> str:
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, key.lower(), default)


class FastClient:
    """A boto3-compatible client for one service: call operations as ``client.send_email(...)``.

    Thread-safe: each request takes its own pooled connection. Build with :func:`make_client`.
    """

    def __init__(
        self,
        real_client: Any,
        *,
        endpoint_url: str,
        credentials: Credentials | None,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        service_model: ServiceModel = real_client.meta.service_model
        protocol = service_model.resolved_protocol
        if protocol not in _SUPPORTED_PROTOCOLS:
            raise ValueError(
                f"FastClient speaks {_SUPPORTED_PROTOCOLS}, not {protocol!r} "
                f"({service_model.service_name}); use a boto3 client for it"
            )
        self._real = real_client
        self._service_model = service_model
        self._method_to_api: dict[str, str] = dict(real_client.meta.method_to_api_mapping)
        self._credentials = credentials
        self._endpoint = Endpoint.parse(endpoint_url)
        self._pool = ConnectionPool(
            self._endpoint,
            max_connections=max_connections,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ssl_context=ssl_context,
        )
        self._signer = SigV4Signer(service_model.signing_name, real_client.meta.region_name)
        self._validator = ParamValidator()
        self._serializer = create_serializer(protocol, include_validation=False)
        self._parser = create_parser(protocol)
        self._operations: dict[str, _Operation] = {}
        self._checks: dict[str, Check] = {}
        self._compile_lock = threading.Lock()
        self._canonical_paths: dict[str, str] = {}
        self._user_agent = (
            f"Boto3/{boto3.__version__} md/Botocore#{botocore.__version__} "
            f"lang/python#{platform.python_version()} md/toolkit-fastaws"
        )
        self.exceptions = real_client.exceptions
        self.meta = real_client.meta

    # -- boto3-compatible surface ---------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"FastClient(service={self._service_model.service_name!r}, "
            f"region={self.meta.region_name!r}, endpoint={self._endpoint.url!r})"
        )

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: operations are built on first use and then
        # stored on the instance, so later calls skip this method entirely.
        if name.startswith("_"):
            raise AttributeError(name)
        api_name = self._method_to_api.get(name)
        if api_name is None:
            return getattr(self._real, name)
        method = self._make_method(name, self._operation(api_name))
        self.__dict__[name] = method
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._method_to_api))

    def close(self) -> None:
        """Close pooled connections (and the helper boto3 client's)."""
        self._pool.close()
        self._real.close()

    def __enter__(self) -> FastClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str:
        """Where requests go (resolved once at construction)."""
        return self._endpoint.url

    @property
    def connections_opened(self) -> int:
        """How many TCP connections this client has opened (keep-alive makes it small)."""
        return self._pool.connections_opened

    # -- one call -------------------------------------------------------------------------------

    def _operation(self, api_name: str) -> _Operation:
        op = self._operations.get(api_name)
        if op is not None:
            return op
        # Compiling shares memo tables between operations: one thread at a time.
        with self._compile_lock:
            op = self._operations.get(api_name)
            if op is not None:
                return op
            model = self._service_model.operation_model(api_name)
            op = _Operation(
                name=api_name,
                model=model,
                input_shape=model.input_shape,
                output_shape=model.output_shape,
                method=model.http.get("method", "POST").upper(),
                streaming_output=bool(model.has_streaming_output),
                check=(
                    compile_check(model.input_shape, self._checks)
                    if model.input_shape is not None
                    else _always
                ),
                compiled=CompiledRequest.compile(model, self._serializer),
                routing_members=tuple(p.member_name for p in model.context_parameters),
            )
            self._operations[api_name] = op
            return op

    def _make_method(self, py_name: str, op: _Operation) -> Callable[..., dict[str, Any]]:
        invoke = self._invoke

        def api_call(*args: Any, **kwargs: Any) -> dict[str, Any]:
            if args:
                raise TypeError(f"{py_name}() only accepts keyword arguments.")
            return invoke(op, kwargs)

        api_call.__name__ = py_name
        api_call.__qualname__ = f"FastClient.{py_name}"
        api_call.__doc__ = f"Call {self._service_model.service_name} {op.name} (boto3 kwargs)."
        return api_call

    def _canonical_path(self, path: str) -> str:
        cached = self._canonical_paths.get(path)
        if cached is None:
            cached = canonical_path(path)
            if len(self._canonical_paths) >= _PATH_CACHE_MAX:
                self._canonical_paths.clear()
            self._canonical_paths[path] = cached
        return cached

    def build_request(
        self, operation_name: str, params: dict[str, Any], *, amz_date: str | None = None
    ) -> PreparedRequest:
        """Validate, serialise and sign one call without sending it (for tests and debugging).

        ``operation_name`` is the boto3 method name (``"send_email"``) or the API name
        (``"SendEmail"``); ``amz_date`` (``YYYYMMDDTHHMMSSZ``) fixes the signing time.
        """
        api_name = self._method_to_api.get(operation_name, operation_name)
        return self._prepare(self._operation(api_name), params, amz_date)

    def _prepare(
        self, op: _Operation, params: dict[str, Any], amz_date: str | None = None
    ) -> PreparedRequest:
        for member in op.routing_members:
            if params.get(member) is not None:
                raise ValueError(
                    f"{op.name}: {member} routes to another endpoint (SES multi-region "
                    "endpoints, SigV4a); FastClient does not do that, use a boto3 client"
                )
        if op.check(params) and op.compiled is not None:
            request = op.compiled.build(params)
        else:
            # Not surely valid (or not compilable): botocore validates and serialises, exactly
            # as a boto3 client would, including its ParamValidationError report.
            if op.input_shape is not None:
                report = self._validator.validate(params, op.input_shape)
                if report.has_errors():
                    raise ParamValidationError(report=report.generate_report())
            request = self._serializer.serialize_to_request(params, op.model)
        body: bytes = request["body"] or b""
        if isinstance(body, str):
            body = body.encode()

        path, _, literal_query = request["url_path"].partition("?")
        base_path = self._endpoint.base_path
        if base_path:
            path = base_path + path
        query = request["query_string"]
        encoded = percent_encode_sequence(query) if query else ""
        if literal_query:
            encoded = f"{literal_query}&{encoded}" if encoded else literal_query
        target = f"{path}?{encoded}" if encoded else path

        if self._credentials is None:
            raise NoCredentialsError()
        creds = self._credentials.get_frozen_credentials()
        if amz_date is None:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        headers: dict[str, str] = {str(k): str(v) for k, v in request["headers"].items()}
        headers["X-Amz-Date"] = amz_date
        if creds.token:
            headers["X-Amz-Security-Token"] = creds.token
        signed = {k.lower(): v for k, v in headers.items()}
        signed["host"] = self._endpoint.host_header
        headers["Authorization"] = self._signer.authorization(
            creds,
            amz_date,
            op.method,
            self._canonical_path(path),
            canonical_query(encoded),
            signed,
            body,
        )
        headers["User-Agent"] = self._user_agent
        return PreparedRequest(op.method, target, headers, body)

    def _invoke(self, op: _Operation, params: dict[str, Any]) -> dict[str, Any]:
        prepared = self._prepare(op, params)
        head = "".join(f"{k}: {v}\r\n" for k, v in prepared.headers.items())
        status, headers, payload = self._pool.request(
            prepared.method, prepared.target, head, prepared.body
        )
        return self._parse(op, status, headers, payload)

    def _parse(
        self, op: _Operation, status: int, headers: dict[str, str], payload: bytes
    ) -> dict[str, Any]:
        response: dict[str, Any] = {
            "headers": _Headers(headers),
            "status_code": status,
            "body": payload,
            "context": {"operation_name": op.name},
        }
        if op.streaming_output and status < 300:
            response["body"] = StreamingBody(io.BytesIO(payload), len(payload))
        parser = self._parser
        parsed: dict[str, Any] = parser.parse(response, op.output_shape)
        if status >= 300:
            # botocore's second pass: fill the modeled fields of the error shape.
            code = parsed.get("Error", {}).get("Code")
            if code is not None:
                error_shape = self._service_model.shape_for_error_code(code)
                if error_shape is not None:
                    parsed.update(parser.parse(response, error_shape))
        metadata = parsed.get("ResponseMetadata")
        if metadata is not None:
            metadata["RetryAttempts"] = 0  # FastClient never retries: the engine does
        if status >= 300:
            code = parsed.get("Error", {}).get("Code")
            raise self.exceptions.from_code(code)(parsed, op.name)
        return parsed


def _refuse_proxy(url: str) -> None:
    """boto3 honours HTTP(S)_PROXY; FastClient connects directly, so say so instead of failing
    later with a connect error (loopback endpoints such as the sandbox are never proxied)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return
    proxy = getproxies().get(parts.scheme)
    if proxy and not proxy_bypass(host):
        raise ValueError(
            f"a {parts.scheme} proxy is configured for {host}; FastClient does not use "
            "proxies: use a boto3 client (AwsTarget(fast=False))"
        )


def _ssl_context(verify: bool | str | ssl.SSLContext | None) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    cafile = get_cert_path(True if verify is None else verify)
    return ssl.create_default_context(cafile=cafile)


def make_client(
    service: str,
    *,
    region: str,
    endpoint_url: str | None = None,
    credentials: Credentials | None = None,
    session: boto3.Session | None = None,
    max_connections: int = 10,
    connect_timeout: float = 5,
    read_timeout: float = 30,
    verify: bool | str | ssl.SSLContext | None = None,
) -> FastClient:
    """Build a :class:`FastClient` for ``service`` (``"sesv2"``, ``"pinpoint"`` …).

    ``credentials`` defaults to the ``session``'s chain (a new ``boto3.Session()`` when none is
    given); refreshable credentials are re-read on every call. With no credentials anywhere,
    calls raise ``NoCredentialsError`` as boto3's do. ``verify`` is boto3's: True/None checks
    certificates against botocore's CA bundle, a path names another bundle, False disables the
    check; an ``ssl.SSLContext`` is used as is. Raises ``ValueError`` for a service whose
    protocol is not REST-JSON.
    """
    session = session or boto3.Session()
    client_kwargs: dict[str, Any] = {}
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        client_kwargs = {
            "aws_access_key_id": frozen.access_key,
            "aws_secret_access_key": frozen.secret_key,
            "aws_session_token": frozen.token,
        }
    else:
        credentials = session.get_credentials()
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    real = session.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=config,
        verify=verify if isinstance(verify, (bool, str)) else None,
        **client_kwargs,
    )
    url = endpoint_url or default_endpoint(service, region) or real.meta.endpoint_url
    _refuse_proxy(url)
    return FastClient(
        real,
        endpoint_url=url,
        credentials=credentials,
        max_connections=max_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ssl_context=_ssl_context(verify) if url.startswith("https") else None,
    )
