"""Endpoints that are not SES: a loopback HTTP server with one canned answer (a captive
portal, a proxy's error page, a truncated body) and an SMTP server that stops answering at a
chosen verb. Nothing they receive is accepted, so every ``sent`` row against them is false."""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

ANSWERS: dict[str, tuple[int, str, bytes, dict[str, str]]] = {
    "html-200": (200, "text/html; charset=utf-8", b"<html><body>Wi-Fi login</body></html>", {}),
    "text-200": (200, "text/plain", b"OK", {}),
    "truncated-json": (200, "application/json", b'{"MessageId": "0100abc', {}),
    "empty-object": (200, "application/json", b"{}", {}),
    "null-id": (200, "application/json", b'{"MessageId": null, "BulkEmailEntryResults": null}', {}),
    "html-500": (500, "text/html", b"<html>Internal Server Error</html>", {}),
    "redirect": (302, "text/html", b"", {"Location": "http://127.0.0.1:9/login"}),
}  # fmt: skip


class _Canned(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body, extra = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def canned_http(answer: str) -> Iterator[str]:
    """An endpoint URL on 127.0.0.1 answering every request with ``ANSWERS[answer]``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    httpd.answer = ANSWERS[answer]  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


STALL_AT = ("greeting", "MAIL", "RCPT", "DATA")


class _Stalls(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.server.connected.set()  # type: ignore[attr-defined]
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        at: str = self.server.at  # type: ignore[attr-defined]
        if at == "greeting":
            stop.wait(30)
            return
        self.wfile.write(b"220 stall.test ESMTP\r\n")
        while not stop.is_set():
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper().decode("ascii", "replace")
            if verb == at or verb == "DATA":
                stop.wait(30)
                return
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-stall.test\r\n250 8BITMIME\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 Bye\r\n")
                return
            else:
                self.wfile.write(b"250 Ok\r\n")


@contextlib.contextmanager
def stalling_smtp(at: str) -> Iterator[tuple[int, threading.Event]]:
    """An SMTP server on 127.0.0.1 that stops answering at ``at`` (a verb, or before its
    greeting): its port, and an event set once a client connected."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Stalls)
    server.daemon_threads = True
    server.stop = threading.Event()  # type: ignore[attr-defined]
    server.at = at  # type: ignore[attr-defined]
    server.connected = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.connected  # type: ignore[attr-defined]
    finally:
        server.stop.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()
