"""A small, fast HTTP/1.1 server for AWS rest-json APIs (SES v2 and Pinpoint), on raw asyncio.

Why not ``http.server`` or a framework: the sandbox must take thousands of requests per second
from keep-alive clients (boto3 reuses connections) while validating each one against
botocore's model; an ``asyncio.Protocol`` that parses Content-Length-framed requests itself
costs tens of microseconds per request. The event loop runs on a background thread, so the
server works inside Jupyter, whose own loop is left alone.

What it does per request: require an ``Authorization`` header (403
``MissingAuthenticationTokenException``, as AWS) and, given an ``authenticate`` check (the
sandbox's :class:`~toolkit.sandbox.signatures.SignatureCheck`), a valid signature; route
``method + path`` with the URIs of botocore's service models, decode the JSON body, validate
it (400 ``BadRequestException`` naming the member), call the operation's handler, and answer
with the operation's modeled status code. Errors carry ``x-amzn-ErrorType`` and a JSON body
(``{"message": ...}`` for SES v2, ``{"Message": ..., "RequestID": ...}`` for Pinpoint) so
botocore raises the modeled exception. Operations the sandbox does not implement answer 501
``NotImplementedException``; unknown paths 404 ``UnknownOperationException``.

A few unsigned ``local_routes`` (the sandbox's verification link) are served before any of that.

Framing rules: keep-alive by default (HTTP/1.1), pipelined requests answered in order, bodies
over ``max_body_bytes`` refused from the head (413, or what ``too_large`` answers for the
path), chunked bodies refused with 411 (botocore always sends Content-Length), malformed
request lines with 400; after a framing error the
connection is closed. A handler may raise :class:`DropConnection` to close the socket without
answering (fault injection: the request is lost in transit).

Usage::

    router = Router()
    router.add_service(service_model, {"SendEmail": handler}, style="ses")
    server = HttpApiServer(router, latency_s=0.0)
    server.start()          # returns once listening; server.port is the bound port
    ...
    server.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from toolkit.sandbox.loop_thread import LoopThread
from toolkit.sandbox.mailbox import random_uuid
from toolkit.sandbox.routing import Router
from toolkit.sandbox.validation import ValidationError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 45 * 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024

# (method, target, headers, body) -> None when the request may proceed, else its refusal.
Authenticate = Callable[[str, str, Mapping[str, str], bytes], "tuple[int, str, str] | None"]
# query parameters -> (status, JSON answer): unsigned routes such as a verification link.
LocalRoute = Callable[[dict[str, str]], "tuple[int, Any]"]
# (path, Content-Length) -> (status, error code, message) for a body over max_body_bytes.
TooLarge = Callable[[str, int], "tuple[int, str, str]"]


class ApiError(Exception):
    """An AWS-shaped error answer: HTTP status, error code (exception name) and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class DropConnection(Exception):
    """Raised by a handler to close the connection without any answer."""


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class HttpApi:
    """Turns one parsed request into ``(status, body, error_type)``; no I/O here."""

    def __init__(
        self,
        router: Router,
        *,
        authenticate: Authenticate | None = None,
        local_routes: Mapping[tuple[str, str], LocalRoute] | None = None,
    ) -> None:
        self.router = router
        self.authenticate = authenticate
        self.local_routes = dict(local_routes or {})

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes, str | None]:
        """Serve one request; raises :class:`DropConnection` to drop it."""
        path, _, query = target.partition("?")
        style = "pinpoint" if path.startswith("/v1/") else "ses"
        local = self.local_routes.get((method, path))
        if local is not None:
            status, answer = local(dict(parse_qsl(query)))
            return status, json.dumps(answer).encode(), None
        if not headers.get("authorization"):
            return _error(
                style, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        if self.authenticate is not None:
            refusal = self.authenticate(method, target, headers, body)
            if refusal is not None:
                return _error(style, *refusal)
        found = self.router.match(method, path)
        if found is None:
            return _error(
                style, 404, "UnknownOperationException", f"Unknown operation: {method} {path}"
            )
        route, labels = found
        style = route.style
        if route.handler is None or route.validator is None:
            return _error(
                style,
                501,
                "NotImplementedException",
                f"The embedded sandbox does not support the {route.service} operation "
                f"{route.operation}.",
            )
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            return _error(
                style,
                400,
                "BadRequestException",
                f"Could not parse the request body as JSON: {exc}",
            )
        except RecursionError:  # nested deeper than the parser's stack: no AWS shape is
            return _error(
                style,
                400,
                "BadRequestException",
                "Could not parse the request body as JSON: nested too deeply.",
            )
        try:
            params = route.validator.params(data, labels, _query(query) if query else None, headers)
            result = route.handler(params, len(body))
        except ValidationError as exc:
            return _error(style, 400, "BadRequestException", str(exc))
        except ApiError as exc:
            return _error(style, exc.status, exc.code, exc.message)
        except DropConnection:
            raise
        except Exception:  # a sandbox bug must not kill the server
            log.exception("sandbox handler %s failed", route.operation)
            return _error(
                style,
                500,
                "InternalServerErrorException",
                "Internal error in the embedded sandbox.",
            )
        return route.status, b"{}" if result is None else json.dumps(result).encode(), None


def _error(style: str, status: int, code: str, message: str) -> tuple[int, bytes, str]:
    body = _ERROR_BODIES.get(style, _ses_error_body)(message)
    return status, json.dumps(body).encode(), code


def _ses_error_body(message: str) -> dict[str, str]:
    return {"message": message}


def _pinpoint_error_body(message: str) -> dict[str, str]:
    return {"Message": message, "RequestID": random_uuid()}


# Each service's error body, by the API style of the route (the service, not a ``via``).
_ERROR_BODIES = {"ses": _ses_error_body, "pinpoint": _pinpoint_error_body}


def _response(status: int, body: bytes, error_type: str | None, close: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"x-amzn-RequestId: {random_uuid()}\r\n"
    )
    if error_type:
        head += f"x-amzn-ErrorType: {error_type}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    """One client connection: parse, serve in order, keep alive."""

    def __init__(
        self,
        api: HttpApi,
        latency_s: float,
        max_body: int,
        connections: set[_Connection],
        too_large: TooLarge = lambda path, length: (
            413,
            "PayloadTooLargeException",
            f"Request body of {length} bytes exceeds the limit.",
        ),
    ) -> None:
        self._api = api
        self._too_large = too_large
        self._latency = latency_s
        self._max_body = max_body
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._head: tuple[str, str, dict[str, str], int, bool] | None = None
        self._head_end = 0
        self._busy = False
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._closing = True
        self._buffer.clear()

    def pause_writing(self) -> None:
        # The client is not reading its answers (a pipelining flood): stop reading its
        # requests too, so that neither buffer grows without bound.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._closing = True
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        if not self._busy:
            self._process()

    def _fail(self, status: int, code: str, message: str) -> None:
        """A framing error: answer and close (the stream cannot be trusted any more)."""
        status, body, error_type = _error("ses", status, code, message)
        assert self._transport is not None
        self._transport.write(_response(status, body, error_type, True))
        self._closing = True
        self._buffer.clear()
        self._transport.close()

    def _process(self) -> None:
        buffer = self._buffer
        while not self._closing and not self._busy:
            if self._head is None:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        self._fail(431, "BadRequestException", "Request headers too large.")
                    return
                if not self._parse_head(bytes(buffer[:end])):
                    return
                self._head_end = end + 4
            assert self._head is not None
            method, target, headers, length, keep = self._head
            total = self._head_end + length
            if len(buffer) < total:
                if headers.get("expect", "").lower() == "100-continue" and self._transport:
                    self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    headers.pop("expect")
                return
            body = bytes(buffer[self._head_end : total])
            del buffer[:total]
            self._head = None
            if self._latency > 0:
                self._busy = True
                asyncio.get_running_loop().call_later(
                    self._latency, self._serve_later, method, target, headers, body, keep
                )
                return
            self._serve(method, target, headers, body, keep)

    def _parse_head(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400, "BadRequestException", "Malformed HTTP request line.")
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._fail(400, "BadRequestException", "Malformed HTTP header line.")
                return False
            headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            self._fail(
                411,
                "BadRequestException",
                "Chunked request bodies are not supported; send Content-Length.",
            )
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._fail(400, "BadRequestException", "Invalid Content-Length.")
            return False
        if length > self._max_body:
            self._fail(*self._too_large(parts[1].partition("?")[0], length))
            return False
        version = parts[2]
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        self._head = (parts[0], parts[1], headers, length, keep)
        return True

    def _serve_later(
        self, method: str, target: str, headers: dict[str, str], body: bytes, keep: bool
    ) -> None:
        self._busy = False
        if self._closing:
            return
        self._serve(method, target, headers, body, keep)
        if not self._closing:
            self._process()

    def _serve(
        self, method: str, target: str, headers: dict[str, str], body: bytes, keep: bool
    ) -> None:
        transport = self._transport
        assert transport is not None
        try:
            status, payload, error_type = self._api.handle(method, target, headers, body)
        except DropConnection:
            self._closing = True
            self._buffer.clear()
            transport.abort()
            return
        transport.write(_response(status, payload, error_type, not keep))
        if not keep:
            self._closing = True
            transport.close()


class HttpApiServer:
    """Runs an :class:`HttpApi` on 127.0.0.1 in an event loop on a background thread."""

    def __init__(
        self,
        router: Router,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        authenticate: Authenticate | None = None,
        local_routes: Mapping[tuple[str, str], LocalRoute] | None = None,
        too_large: TooLarge | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._api = HttpApi(router, authenticate=authenticate, local_routes=local_routes)
        self._latency = latency_s
        self._max_body = max_body_bytes
        self._too_large = too_large
        self._runner = LoopThread("sandbox-http")
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()

    @property
    def url(self) -> str:
        """``http://host:port`` once started."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Bind and serve on a daemon thread; returns once listening."""
        if self._runner.loop is None:
            self._runner.start(self._listen, self._shutdown, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection, stop the loop, join the thread."""
        self._runner.stop(timeout)

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        too_large = () if self._too_large is None else (self._too_large,)
        self._server = await loop.create_server(
            lambda: _Connection(
                self._api, self._latency, self._max_body, self._connections, *too_large
            ),
            self.host,
            self.port,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()


def _query(query: str) -> dict[str, str | list[str]]:
    """Query parameters; a repeated name (a list member, e.g. ``Reason=BOUNCE&Reason=...``)
    keeps every value, in order."""
    found: dict[str, str | list[str]] = {}
    for name, value in parse_qsl(query):
        if name in found:
            before = found[name]
            found[name] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            found[name] = value
    return found
