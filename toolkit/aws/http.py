"""A small HTTP/1.1 keep-alive client: one request, one response, on pooled sockets.

Why not urllib3/http.client: on a loopback round trip boto3 spends a large share of its CPU
in urllib3 + http.client (pool bookkeeping, ``email.parser`` for response headers, several
small ``send`` calls). AWS JSON APIs need none of that: a request is a head and a body sent
with one ``sendall``, and the response a status line, headers and a ``Content-Length`` (or
chunked) body. This module does exactly that over plain or TLS sockets (TLS verifies the
certificate and host name by default), and maps socket failures to the botocore exceptions
boto3 raises, so callers classify both clients' failures the same way:

* refused / unreachable / DNS failure → ``EndpointConnectionError`` (nothing was sent)
* connect or TLS-handshake timeout → ``ConnectTimeoutError`` (nothing was sent)
* certificate failure → ``botocore.exceptions.SSLError`` (nothing was sent)
* timeout waiting for the answer → ``ReadTimeoutError`` (the request may have been acted on)
* reset / closed after sending → ``ConnectionClosedError`` (the request may have been acted on)

Idle connections are kept in a LIFO pool of at most ``max_connections``; a thread takes one
for the duration of a request, so threads never share a socket. A pooled connection that the
server closed while idle is detected (readable before we send) and replaced; if sending on a
reused connection fails part-way the request cannot have been received whole, so it is sent
once more on a fresh connection.

Usage::

    pool = ConnectionPool(Endpoint.parse("http://127.0.0.1:8080"), max_connections=4)
    status, headers, body = pool.request("POST", "/v2/email/outbound-emails",
                                         "Content-Type: application/json\\r\\n", b"{}")
    pool.close()
"""

from __future__ import annotations

import collections
import contextlib
import select
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import SSLError as BotocoreSSLError

__all__ = ["ConnectionPool", "Endpoint", "Response"]

_RECV = 65536
_MAX_HEAD = 64 * 1024
_NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
_NO_LENGTH = frozenset({"GET", "HEAD", "OPTIONS"})  # botocore's AWSRequestPreparer

Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go: scheme, host, port, the ``Host`` header and any base path."""

    url: str
    scheme: str
    host: str
    port: int
    host_header: str
    base_path: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Split an endpoint URL once; ``Host`` omits the default port, as botocore signs it."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http(s) URL, got {url!r}")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port or default
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default else f"{shown}:{port}"
        return cls(url, parts.scheme, host, port, host_header, parts.path.rstrip("/"))


class _Conn:
    __slots__ = ("reused", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class ConnectionPool:
    """Keep-alive connections to one endpoint, safe to use from many threads."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        max_connections: int = 10,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        socket_options: Sequence[tuple[int, int, int]] = _NODELAY,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.endpoint = endpoint
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.socket_options = tuple(socket_options)
        if endpoint.scheme == "https" and ssl_context is None:
            ssl_context = ssl.create_default_context()
        self._ssl = ssl_context if endpoint.scheme == "https" else None
        # deque.append/pop are atomic under the GIL: no lock on the hot path.
        self._idle: collections.deque[_Conn] = collections.deque()
        self._closed = False
        self.connections_opened = 0

    def __repr__(self) -> str:
        return (
            f"ConnectionPool({self.endpoint.url!r}, max_connections={self.max_connections}, "
            f"idle={len(self._idle)})"
        )

    # -- connections ---------------------------------------------------------------------------

    def _connect(self) -> _Conn:
        ep = self.endpoint
        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=self.connect_timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(endpoint_url=ep.url, error=exc) from exc
        except OSError as exc:
            raise EndpointConnectionError(endpoint_url=ep.url, error=exc) from exc
        try:
            for level, option, value in self.socket_options:
                sock.setsockopt(level, option, value)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=ep.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise BotocoreSSLError(endpoint_url=ep.url, error=exc) from exc
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(endpoint_url=ep.url, error=exc) from exc
        except OSError as exc:
            sock.close()
            raise EndpointConnectionError(endpoint_url=ep.url, error=exc) from exc
        sock.settimeout(self.read_timeout)
        self.connections_opened += 1
        return _Conn(sock)

    def _acquire(self) -> _Conn:
        idle = self._idle
        while idle:
            try:
                conn = idle.pop()
            except IndexError:  # another thread took the last one
                break
            # Readable while idle means the server closed it (or sent junk): replace it.
            try:
                readable = bool(select.select((conn.sock,), (), (), 0)[0])
            except (OSError, ValueError):
                readable = True
            if readable:
                conn.close()
                continue
            conn.reused = True
            return conn
        return self._connect()

    def _release(self, conn: _Conn) -> None:
        if self._closed or len(self._idle) >= self.max_connections:
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        """Close idle connections; connections in use close when their request ends."""
        self._closed = True
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:  # pragma: no cover - raced with another closer
                break

    # -- one exchange --------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: str, body: bytes) -> Response:
        """Send one request and return ``(status, lower-cased headers, body)``.

        ``headers`` is the pre-rendered header block (``"Name: value\\r\\n"`` lines) without
        ``Host`` and ``Content-Length``, which are added here (``Content-Length`` as botocore
        adds it: on every method but GET, HEAD and OPTIONS, and whenever there is a body).
        """
        ep = self.endpoint
        length = f"Content-Length: {len(body)}\r\n" if body or method not in _NO_LENGTH else ""
        data = (
            f"{method} {target} HTTP/1.1\r\nHost: {ep.host_header}\r\n{headers}{length}\r\n"
        ).encode() + body
        conn = self._acquire()
        while True:  # at most twice: a new connection is never ``reused``
            try:
                conn.sock.sendall(data)
                break
            except TimeoutError as exc:
                conn.close()
                raise ReadTimeoutError(endpoint_url=ep.url, error=exc) from exc
            except OSError as exc:
                early = _early_answer(conn.sock, method)
                conn.close()
                if early is not None:
                    return early
                if not conn.reused:
                    raise ConnectionClosedError(endpoint_url=ep.url) from exc
            # Sending on a stale keep-alive socket failed before the whole request left,
            # so the server cannot have acted on it: once more on a new connection.
            conn = self._connect()
        try:
            status, headers_out, payload, keep_alive = _read_response(conn.sock, method)
        except TimeoutError as exc:
            conn.close()
            raise ReadTimeoutError(endpoint_url=ep.url, error=exc) from exc
        except (OSError, _ProtocolError) as exc:
            conn.close()
            raise ConnectionClosedError(endpoint_url=ep.url) from exc
        if keep_alive:
            self._release(conn)
        else:
            conn.close()
        return status, headers_out, payload


def _early_answer(sock: socket.socket, method: str) -> Response | None:
    """A complete response the server sent before refusing the rest of our body, if any.

    A server that rejects a request from its head (413 Payload Too Large, 401) may answer and
    close while we are still sending; the answer is then in the receive buffer and is the
    truth about the request (it was refused), rather than a "closed before answering".
    """
    try:
        sock.settimeout(0.5)
        status, headers, payload, _ = _read_response(sock, method)
    except (OSError, _ProtocolError):
        return None
    return status, headers, payload


class _ProtocolError(Exception):
    """The peer closed early or sent something that is not HTTP/1.x."""


def _read_response(sock: socket.socket, method: str) -> tuple[int, dict[str, str], bytes, bool]:
    recv = sock.recv
    buf = recv(_RECV)
    while True:
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > _MAX_HEAD:
                raise _ProtocolError("response head too large")
            chunk = recv(_RECV)
            if not chunk:
                raise _ProtocolError("connection closed before a complete response head")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
        head = buf[:end].decode("latin-1")
        rest = buf[end + 4 :]
        lines = head.split("\r\n")
        version, _, status_text = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise _ProtocolError(f"not an HTTP/1.x response: {lines[0][:40]!r}")
        try:
            status = int(status_text[:3])
        except ValueError:
            raise _ProtocolError(f"bad status line: {lines[0][:40]!r}") from None
        if 100 <= status < 200 and status != 101:
            buf = rest  # an interim response (100 Continue): the real one follows
            if not buf:
                buf = recv(_RECV)
                if not buf:
                    raise _ProtocolError("connection closed after an interim response")
            continue
        break
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    if method == "HEAD" or status in (204, 304):
        return status, headers, b"", keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, rest = _read_chunked(recv, rest)
        return status, headers, body, keep_alive
    length_text = headers.get("content-length")
    if length_text is not None:
        try:
            length = int(length_text)
        except ValueError:
            raise _ProtocolError(f"bad Content-Length {length_text!r}") from None
        if len(rest) < length:
            parts = [rest]
            have = len(rest)
            while have < length:
                chunk = recv(max(_RECV, length - have))
                if not chunk:
                    raise _ProtocolError("connection closed inside the response body")
                parts.append(chunk)
                have += len(chunk)
            rest = b"".join(parts)
        return status, headers, rest[:length], keep_alive
    # No length: the body runs to the end of the connection.
    parts = [rest]
    while chunk := recv(_RECV):
        parts.append(chunk)
    return status, headers, b"".join(parts), False


def _read_chunked(recv: Callable[[int], bytes], buf: bytes) -> tuple[bytes, bytes]:
    """Decode a chunked body; returns (body, bytes after it)."""

    def more(current: bytes) -> bytes:
        chunk = recv(_RECV)
        if not chunk:
            raise _ProtocolError("connection closed inside a chunked body")
        return current + chunk

    out: list[bytes] = []
    while True:
        while (eol := buf.find(b"\r\n")) < 0:
            buf = more(buf)
        size_text = buf[:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
        buf = buf[eol + 2 :]
        if size == 0:
            # Trailers (usually none) end with an empty line.
            while True:
                while (eol := buf.find(b"\r\n")) < 0:
                    buf = more(buf)
                line, buf = buf[:eol], buf[eol + 2 :]
                if not line:
                    return b"".join(out), buf
        while len(buf) < size + 2:
            buf = more(buf)
        out.append(buf[:size])
        buf = buf[size + 2 :]
