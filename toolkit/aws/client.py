"""A fast drop-in subset of a boto3 client for the AWS JSON APIs the transports call.

Why: a boto3 ``sesv2.send_email`` spends about a millisecond of client CPU, which caps one
process at a few hundred requests per second, and threads sharing a client add nothing under
the GIL. A profile (``python benchmarks/fastaws_profile.py --profile`` prints the current
numbers) shows where it goes: urllib3/http.client (pool bookkeeping, ``email.parser`` for
headers, several sends), SigV4 (key derived on every call, generic canonicalisation), event
hooks, endpoint-ruleset resolution, retry bookkeeping and ``AWSRequest`` preparation; model
validation and serialisation grow with the request (a 50-entry ``SendBulkEmail``).

So :class:`FastClient` keeps the parts that make a call correct and drops the machinery
around them, and it is built from a real boto3 client, which decides everything else
(:mod:`.settings`): each operation's endpoint (botocore's ruleset: FIPS, dual-stack,
``AWS_ENDPOINT_URL_SESV2``, custom endpoints with a base path), the signing scope, the
credentials (the client's own provider, read on every request, so they refresh), timeouts,
CA bundle, client certificate and socket options.

* **kept**: botocore's model validation (a compiled "surely valid" check, and botocore's own
  ``ParamValidator`` whenever that check is unsure, so errors are botocore's
  ``ParamValidationError``), botocore's serialisation (compiled per operation, byte-equal to
  its serializer, which still does query-string/header operations; :mod:`.serializer`),
  botocore's response parser (same return dict, ``ResponseMetadata`` with
  ``HTTPStatusCode`` and ``RetryAttempts=0``), the modeled error classes
  (``client.exceptions.TooManyRequestsException`` …, raised like boto3 raises them), SigV4
  with real credentials (identical signature, signing key derived once a day;
  :mod:`.sigv4`), the same headers on the wire as boto3 (``amz-sdk-invocation-id``,
  ``amz-sdk-request``, ``Accept-Encoding``), real HTTP/1.1 on keep-alive sockets (:mod:`.http`),
  boto3's socket-error exceptions (``EndpointConnectionError``, ``ConnectTimeoutError``,
  ``ReadTimeoutError``, ``ConnectionClosedError``).
* **dropped**: event hooks (no plugins), per-call endpoint resolution (resolved once per
  operation), retries (the engine retries, with its own backoff and journal — a client that
  silently resends would break "never sent twice").
* **handed to boto3**: a whole client whose setup the fast client does not reproduce (a proxy,
  changed models, another protocol: :func:`make_client` returns the plain boto3 client with
  one :class:`FastClientHandoverWarning`), and single calls it does
  not do (SES multi-region ``EndpointId``, checksums, host prefixes), which the boto3 client
  it holds makes instead. ``tests/integration/test_fastaws_differential.py`` compares both
  clients on the wire over a matrix of configurations.

The benchmarks compare it with plain boto3 in the same run (``python -m benchmarks``, group
``ses``). Any operation of the service model works (``__getattr__`` dispatch by boto3 method name);
other attributes (``meta``, ``exceptions``, ``get_paginator`` …) come from the boto3 client.

Usage::

    client = make_client("sesv2", region="us-east-1", endpoint_url=sandbox.endpoint_url,
                         credentials=Credentials("AKID", "secret"))
    client.send_email(FromEmailAddress=..., Destination=..., Content=...)  # as with boto3
"""

from __future__ import annotations

import io
import platform
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError, ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence
from botocore.validate import ParamValidator

from toolkit.aws.http import ConnectionPool, Endpoint
from toolkit.aws.serializer import Check, CompiledRequest, compile_check
from toolkit.aws.settings import (
    FastClientHandoverWarning,
    HttpSettings,
    Unsupported,
    client_credentials,
    handover_reason,
    http_settings,
    operation_endpoint,
    sdk_request_header,
    ssl_context,
)
from toolkit.aws.sigv4 import SigV4Signer, canonical_path, canonical_query

__all__ = ["FastClient", "FastClientHandoverWarning", "PreparedRequest", "make_client"]

_PATH_CACHE_MAX = 1024
_FROM_CLIENT: Any = object()  # credentials: the boto3 client's own (the default)


def _always(value: Any) -> bool:
    return True


def _amz_date() -> str:
    """Now, as SigV4 writes it (one function, so a test can fix the signing time)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


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
    # Members that would make boto3 pick another endpoint (SES multi-region EndpointId):
    # a call that sets one is made by the boto3 client.
    routing_members: tuple[str, ...]
    boto3_method: Callable[..., dict[str, Any]]
    # Where the call goes; None: the boto3 client makes every call of this operation.
    pool: ConnectionPool | None
    signer: SigV4Signer | None
    handover: str = ""  # why pool is None


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated, serialised, signed request: what goes on the wire (minus Host/length)."""

    method: str
    target: str  # path and query string, as in the request line
    headers: dict[str, str] = field(repr=False)  # holds the Authorization/session token
    body: bytes = field(repr=False)
    host: str = ""  # the Host header (the endpoint's host, and port when not the default)


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

    Built from a boto3 client (``real_client``), whose endpoint rules, credentials and HTTP
    settings it uses; ``credentials`` replaces the client's own (None: no credentials).
    Raises :class:`~toolkit.aws.settings.Unsupported` for a client it cannot stand in for
    (:func:`make_client` then keeps the boto3 client). Thread-safe: each request takes its
    own pooled connection.
    """

    def __init__(self, real_client: Any, *, credentials: Any = _FROM_CLIENT) -> None:
        reason = handover_reason(real_client)
        if reason is not None:
            raise Unsupported(reason)
        service_model: ServiceModel = real_client.meta.service_model
        protocol = service_model.resolved_protocol
        self._real = real_client
        self._service_model = service_model
        self._method_to_api: dict[str, str] = dict(real_client.meta.method_to_api_mapping)
        self._api_to_method = {api: py for py, api in self._method_to_api.items()}
        self._credentials = (
            client_credentials(real_client) if credentials is _FROM_CLIENT else credentials
        )
        self._http: HttpSettings = http_settings(real_client)
        self._pools: dict[str, ConnectionPool] = {}
        self._signers: dict[tuple[str, str], SigV4Signer] = {}
        self._validator = ParamValidator()
        self._serializer = create_serializer(protocol, include_validation=False)
        self._parser = create_parser(protocol)
        self._operations: dict[str, _Operation] = {}
        self._checks: dict[str, Check] = {}
        self._compile_lock = threading.Lock()
        self._canonical_paths: dict[str, str] = {}
        self._sdk_request = sdk_request_header()
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
            f"region={self.meta.region_name!r}, endpoint={self.endpoint_url!r})"
        )

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: operations are built on first use and then
        # stored on the instance, so later calls skip this method entirely.
        if name.startswith("_"):
            raise AttributeError(name)
        api_name = self._method_to_api.get(name)
        if api_name is None:
            return getattr(self._real, name)
        method = self._make_method(name, api_name)
        self.__dict__[name] = method
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._method_to_api))

    def close(self) -> None:
        """Close pooled connections (and the boto3 client's)."""
        for pool in list(self._pools.values()):
            pool.close()
        self._real.close()

    def __enter__(self) -> FastClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str:
        """The service endpoint as the boto3 client resolved it (each operation is resolved
        with botocore's ruleset on first use; for SES and Pinpoint they all agree)."""
        return str(self.meta.endpoint_url)

    @property
    def connections_opened(self) -> int:
        """How many TCP connections this client has opened (keep-alive makes it small)."""
        return sum(pool.connections_opened for pool in list(self._pools.values()))

    def handover(self, operation_name: str) -> str:
        """Why every call of ``operation_name`` is made by boto3, or "" when none is."""
        api_name = self._method_to_api.get(operation_name, operation_name)
        return self._operation(api_name).handover

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
            pool: ConnectionPool | None = None
            signer: SigV4Signer | None = None
            handover = ""
            try:
                where = operation_endpoint(self._real, model)
            except Unsupported as exc:
                handover = str(exc)
            else:
                pool = self._pool_for(where.url)
                key = (where.signing_name, where.signing_region)
                signer = self._signers.get(key)
                if signer is None:
                    signer = self._signers[key] = SigV4Signer(*key)
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
                boto3_method=getattr(self._real, self._api_to_method[api_name]),
                pool=pool,
                signer=signer,
                handover=handover,
            )
            self._operations[api_name] = op
            return op

    def _pool_for(self, url: str) -> ConnectionPool:
        pool = self._pools.get(url)
        if pool is None:
            endpoint = Endpoint.parse(url)
            http = self._http
            pool = ConnectionPool(
                endpoint,
                max_connections=http.max_connections,
                connect_timeout=http.connect_timeout,
                read_timeout=http.read_timeout,
                ssl_context=ssl_context(http) if endpoint.scheme == "https" else None,
                socket_options=http.socket_options,
            )
            self._pools[url] = pool
        return pool

    def _make_method(self, py_name: str, api_name: str) -> Callable[..., dict[str, Any]]:
        op = self._operation(api_name)
        if op.pool is None:
            return op.boto3_method  # every call of it goes through boto3
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
        (``"SendEmail"``); ``amz_date`` (``YYYYMMDDTHHMMSSZ``) fixes the signing time. Raises
        ValueError for a call the boto3 client would make instead.
        """
        api_name = self._method_to_api.get(operation_name, operation_name)
        op = self._operation(api_name)
        if op.pool is None or self._routed(op, params):
            raise ValueError(f"{api_name}: this call is made by boto3 ({op.handover or 'routed'})")
        return self._prepare(op, params, amz_date)

    @staticmethod
    def _routed(op: _Operation, params: dict[str, Any]) -> bool:
        """True when a member picks another endpoint (SES multi-region ``EndpointId``)."""
        return any(params.get(member) is not None for member in op.routing_members)

    def _prepare(
        self, op: _Operation, params: dict[str, Any], amz_date: str | None = None
    ) -> PreparedRequest:
        assert op.pool is not None and op.signer is not None
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

        endpoint = op.pool.endpoint
        path, _, literal_query = request["url_path"].partition("?")
        base_path = endpoint.base_path
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
            amz_date = _amz_date()
        headers: dict[str, str] = {str(k): str(v) for k, v in request["headers"].items()}
        headers["X-Amz-Date"] = amz_date
        if creds.token:
            headers["X-Amz-Security-Token"] = creds.token
        signed = {k.lower(): v for k, v in headers.items()}
        signed["host"] = endpoint.host_header
        headers["Authorization"] = op.signer.authorization(
            creds,
            amz_date,
            op.method,
            self._canonical_path(path),
            canonical_query(encoded),
            signed,
            body,
        )
        # Added after signing, as boto3 adds them (http.client adds Accept-Encoding).
        headers["User-Agent"] = self._user_agent
        headers["Accept-Encoding"] = "identity"
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        headers["amz-sdk-request"] = self._sdk_request
        return PreparedRequest(op.method, target, headers, body, endpoint.host_header)

    def _invoke(self, op: _Operation, params: dict[str, Any]) -> dict[str, Any]:
        if op.routing_members and self._routed(op, params):
            return op.boto3_method(**params)
        prepared = self._prepare(op, params)
        head = "".join(f"{k}: {v}\r\n" for k, v in prepared.headers.items())
        assert op.pool is not None
        status, headers, payload = op.pool.request(
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


def make_client(
    service: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    credentials: Credentials | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
    max_connections: int = 10,
    connect_timeout: float = 5,
    read_timeout: float = 30,
    verify: bool | str | None = None,
) -> Any:
    """A :class:`FastClient` for ``service`` (``"sesv2"``, ``"pinpoint"`` …), or the plain boto3
    client it would be built from, when it cannot be boto3 on the wire there.

    The boto3 client is ``session.client(service, region_name=region, endpoint_url=...,
    config=config, verify=verify)`` (a new ``boto3.Session()`` when no session is given; with
    no ``config``, one with retries off and the given pool size and timeouts). Everything the
    fast client sends follows from that client: endpoint rules and environment, credentials
    (``credentials`` replaces the session's chain; refreshable ones are re-read on every call),
    CA bundle, client certificate, proxies. When it would differ from boto3 (a proxy, models
    that changed what it relies on, not REST-JSON), the boto3 client is returned and one
    :class:`FastClientHandoverWarning` says why.
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
    if config is None:
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
        verify=verify,
        **client_kwargs,
    )
    try:
        return FastClient(real, credentials=credentials or _FROM_CLIENT)
    except Unsupported as exc:
        warnings.warn(f"plain boto3 for {service}: {exc}", FastClientHandoverWarning, stacklevel=2)
        return real
