"""FastClient against real loopback servers: same answers, same errors as boto3.

A scripted HTTP/1.1 stub on 127.0.0.1 plays AWS (fixed JSON answers, 429/400 errors, a
server that hangs, closes or resets), and each behaviour is checked with both clients, so
the transports' error classification sees the same thing whichever client they hold.
The last tests run against the embedded sandbox.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from toolkit.aws.client import FastClient, make_client

CREDS = Credentials("AKIDEXAMPLE", "stub-secret")
REGION = "eu-west-1"

Answer = tuple[int, dict[str, str], bytes] | str  # or "hang" / "close" / "reset" / "drop-idle"
Handler = Callable[[str, str, dict[str, str], bytes], Answer]


class Stub:
    """A keep-alive HTTP/1.1 server on an ephemeral loopback port; answers come from a handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.requests.append((method, target, headers, body))
                answer = self.handler(method, target, headers, body)
                if answer == "hang":
                    self._stop.wait(5)
                    return
                if answer == "close":
                    return
                if answer == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if answer == "drop-idle":
                    conn.sendall(_render(200, {}, b'{"MessageId":"m-1"}'))
                    return  # closes the keep-alive connection while the client holds it idle
                assert not isinstance(answer, str)
                conn.sendall(_render(*answer))
        except OSError:
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._accept.join(2)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(2)


def _render(status: int, headers: dict[str, str], body: bytes, *, chunked: bool = False) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}.get(status, "X")
    lines = [f"HTTP/1.1 {status} {reason}", "x-amzn-RequestId: req-123"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        payload = b"".join(
            f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:half], body[half:])
        )
        payload += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def _json(status: int, doc: dict[str, Any], **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(doc).encode()


def _aws_like(method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
    """Canned answers on the real SES v2 / Pinpoint paths."""
    if target == "/v2/email/outbound-emails":
        params = json.loads(body)
        to = params["Destination"]["ToAddresses"][0]
        if to.startswith("throttle"):
            return _json(
                429,
                {"message": "Maximum sending rate exceeded."},
                **{"x-amzn-ErrorType": "TooManyRequestsException"},
            )
        if to.startswith("reject"):
            return _json(
                400,
                {"message": "Email address is not verified. nobody@example.com"},
                **{"x-amzn-ErrorType": "MessageRejected:http://internal.amazon.com/"},
            )
        return _json(200, {"MessageId": "0100018c-aaaa-000000"})
    if target == "/v2/email/outbound-bulk-emails":
        n = len(json.loads(body)["BulkEmailEntries"])
        results = [{"Status": "SUCCESS", "MessageId": f"m-{i}"} for i in range(n - 1)]
        results.append({"Status": "ACCOUNT_THROTTLED", "Error": "Maximum sending rate exceeded."})
        return _json(200, {"BulkEmailEntryResults": results})
    if target == "/v2/email/account":
        return _json(
            200,
            {
                "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 3},
                "SendingEnabled": True,
                "ProductionAccessEnabled": True,
                "EnforcementStatus": "HEALTHY",
                "Details": {"MailType": "TRANSACTIONAL", "ReviewDetails": {"Status": "GRANTED"}},
            },
        )
    if target.endswith("/messages"):
        addresses = json.loads(body)["Addresses"]
        result = {
            a: {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": f"p-{i}"}
            for i, a in enumerate(addresses)
        }
        return _json(200, {"ApplicationId": "app-1", "RequestId": "r", "Result": result})
    return _json(404, {"message": "no such route"}, **{"x-amzn-ErrorType": "NotFoundException"})


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub(_aws_like)
    yield server
    server.close()


def _clients(service: str, url: str, **fast_kwargs: Any) -> tuple[Any, FastClient]:
    read_timeout = fast_kwargs.get("read_timeout", 30)
    boto = boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=CREDS.access_key,
        aws_secret_access_key=CREDS.secret_key,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            read_timeout=read_timeout,
            connect_timeout=2,
        ),
    )
    fast = make_client(service, region=REGION, endpoint_url=url, credentials=CREDS, **fast_kwargs)
    return boto, fast


SIMPLE = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


def _send(to: str) -> dict[str, Any]:
    return {
        "FromEmailAddress": "sender@example.com",
        "Destination": {"ToAddresses": [to]},
        "Content": SIMPLE,
    }


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("sesv2", "send_email", _send("ok@example.com")),
    ("sesv2", "get_account", {}),
    (
        "sesv2",
        "send_bulk_email",
        {
            "FromEmailAddress": "sender@example.com",
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}},
            "BulkEmailEntries": [
                {"Destination": {"ToAddresses": [f"r{i}@example.com"]}} for i in range(50)
            ],
        },
    ),
    (
        "pinpoint",
        "send_messages",
        {
            "ApplicationId": "app-1",
            "MessageRequest": {
                "Addresses": {f"u{i}@example.com": {"ChannelType": "EMAIL"} for i in range(100)},
                "MessageConfiguration": {
                    "EmailMessage": {
                        "SimpleEmail": {
                            "Subject": {"Data": "s"},
                            "TextPart": {"Data": "t"},
                        }
                    }
                },
            },
        },
    ),
]


@pytest.mark.parametrize(("service", "method", "params"), CALLS, ids=[c[1] for c in CALLS])
def test_same_answer_as_boto3(
    stub: Stub, service: str, method: str, params: dict[str, Any]
) -> None:
    boto, fast = _clients(service, stub.url)
    expected = getattr(boto, method)(**params)
    got = getattr(fast, method)(**params)
    # boto3 marks every answer MaxAttemptsReached when configured for a single attempt.
    expected["ResponseMetadata"].pop("MaxAttemptsReached", None)
    assert got == expected
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ResponseMetadata"]["RetryAttempts"] == 0
    # Same bytes on the wire, and a signature of the same shape.
    (_, b_target, b_headers, b_body), (_, f_target, f_headers, f_body) = stub.requests
    assert (f_target, f_body) == (b_target, b_body)
    assert (
        f_headers["authorization"].split("Signature=")[0]
        == (b_headers["authorization"].split("Signature=")[0])
    )
    fast.close()


@pytest.mark.parametrize(
    ("to", "code", "status", "exception"),
    [
        ("throttle@example.com", "TooManyRequestsException", 429, "TooManyRequestsException"),
        ("reject@example.com", "MessageRejected", 400, "MessageRejected"),
    ],
)
def test_same_error_as_boto3(stub: Stub, to: str, code: str, status: int, exception: str) -> None:
    boto, fast = _clients("sesv2", stub.url)
    with pytest.raises(ClientError) as boto_error:
        boto.send_email(**_send(to))
    with pytest.raises(getattr(fast.exceptions, exception)) as fast_error:
        fast.send_email(**_send(to))
    # Each client has its own generated classes; same name, same ClientError base.
    assert type(fast_error.value).__name__ == type(boto_error.value).__name__ == exception
    boto_error.value.response["ResponseMetadata"].pop("MaxAttemptsReached", None)
    assert fast_error.value.response == boto_error.value.response
    # boto3 adds "(reached max retries: 0)" only because of MaxAttemptsReached above.
    assert str(fast_error.value) == str(boto_error.value).replace(" (reached max retries: 0)", "")
    assert fast_error.value.response["Error"]["Code"] == code
    assert fast_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert fast_error.value.operation_name == "SendEmail"


def test_connection_refused_is_endpoint_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    boto, fast = _clients("sesv2", url)
    with pytest.raises(EndpointConnectionError):
        boto.get_account()
    with pytest.raises(EndpointConnectionError) as error:
        fast.get_account()
    assert url in str(error.value)


@pytest.mark.parametrize(
    ("behaviour", "exception"),
    [
        ("hang", ReadTimeoutError),
        ("close", ConnectionClosedError),
        ("reset", ConnectionClosedError),
    ],
)
def test_failure_after_send_maps_like_boto3(behaviour: str, exception: type[Exception]) -> None:
    server = Stub(lambda *_: behaviour)
    try:
        boto, fast = _clients("sesv2", server.url, read_timeout=0.3)
        with pytest.raises(exception):
            boto.get_account()
        with pytest.raises(exception):
            fast.get_account()
    finally:
        server.close()


def test_keep_alive_one_connection_per_thread(stub: Stub) -> None:
    _, fast = _clients("sesv2", stub.url, max_connections=4)
    for _ in range(20):
        fast.send_email(**_send("ok@example.com"))
    assert fast.connections_opened == 1
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                assert fast.send_email(**_send("ok@example.com"))["MessageId"]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert fast.connections_opened <= 4
    assert len(stub.requests) == 120
    fast.close()


def test_server_closing_idle_connection_is_replaced() -> None:
    server = Stub(lambda *_: "drop-idle")
    try:
        _, fast = _clients("sesv2", server.url)
        for _ in range(5):
            assert fast.send_email(**_send("ok@example.com"))["MessageId"] == "m-1"
            server._threads[-1].join(2)  # the server has now closed the idle connection
        assert len(server.requests) == 5
        assert fast.connections_opened == 5
    finally:
        server.close()


def test_chunked_and_connection_close_answers() -> None:
    body = json.dumps({"MessageId": "chunky-" + "x" * 300}).encode()

    def answer(*_: Any) -> Answer:
        return 200, {"Connection": "close", "Content-Type": "application/json"}, body

    server = Stub(answer)
    try:
        _, fast = _clients("sesv2", server.url)
        for _ in range(3):
            assert fast.send_email(**_send("ok@example.com"))["MessageId"].startswith("chunky-")
        assert fast.connections_opened == 3  # "Connection: close" honoured
    finally:
        server.close()


def test_chunked_response_body() -> None:
    doc = json.dumps({"MessageId": "c-" + "y" * 1000}).encode()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += conn.recv(65536)
            conn.sendall(_render(200, {"Content-Type": "application/json"}, doc, chunked=True))
            conn.recv(1)  # until the client closes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        _, fast = _clients("sesv2", f"http://127.0.0.1:{port}", read_timeout=5)
        assert (
            fast.send_email(**_send("ok@example.com"))["MessageId"] == json.loads(doc)["MessageId"]
        )
        fast.close()
    finally:
        thread.join(5)
        listener.close()


# -- the embedded sandbox -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    sandbox_module = pytest.importorskip("toolkit.sandbox")
    with sandbox_module.Sandbox(smtp=False) as running:
        yield running


def _sandbox_clients(sandbox: Any, service: str) -> tuple[Any, FastClient]:
    creds = Credentials(sandbox.access_key_id, sandbox.secret_access_key)
    fast = make_client(
        service, region=sandbox.region, endpoint_url=sandbox.endpoint_url, credentials=creds
    )
    boto = sandbox.client(service, config=Config(retries={"total_max_attempts": 1}))
    return boto, fast


def test_sandbox_send_email_and_rejection(sandbox: Any) -> None:
    from toolkit.sandbox.server import DEFAULT_SENDER

    boto, fast = _sandbox_clients(sandbox, "sesv2")
    ok = {**_send("success@simulator.amazonses.com"), "FromEmailAddress": DEFAULT_SENDER}
    assert fast.send_email(**ok)["MessageId"]
    assert fast.get_account()["SendQuota"] == boto.get_account()["SendQuota"]
    bad = {**ok, "FromEmailAddress": "nobody@unverified.example"}
    with pytest.raises(ClientError) as boto_error:
        boto.send_email(**bad)
    with pytest.raises(fast.exceptions.MessageRejected) as fast_error:
        fast.send_email(**bad)
    assert fast_error.value.response["Error"] == boto_error.value.response["Error"]
    fast.close()


def test_sandbox_pinpoint_send_messages(sandbox: Any) -> None:
    from toolkit.sandbox.server import DEFAULT_APP_ID, DEFAULT_SENDER

    _, fast = _sandbox_clients(sandbox, "pinpoint")
    app = fast.get_app(ApplicationId=DEFAULT_APP_ID)["ApplicationResponse"]
    assert app["Id"] == DEFAULT_APP_ID
    answer = fast.send_messages(
        ApplicationId=DEFAULT_APP_ID,
        MessageRequest={
            "Addresses": {"success@simulator.amazonses.com": {"ChannelType": "EMAIL"}},
            "MessageConfiguration": {
                "EmailMessage": {
                    "FromAddress": DEFAULT_SENDER,
                    "SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}},
                }
            },
        },
    )
    result = answer["MessageResponse"]["Result"]["success@simulator.amazonses.com"]
    assert result["DeliveryStatus"] == "SUCCESSFUL"
    fast.close()


def test_https_verifies_certificates() -> None:
    """TLS with certificate checks: a self-signed server fails unless its CA is given."""
    from botocore.exceptions import SSLError

    from toolkit.sandbox.tls import SelfSignedCertificate

    cert = SelfSignedCertificate.generate("localhost")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server_ctx = cert.server_context()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with server_ctx.wrap_socket(raw, server_side=True) as conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536)
                    head, _, rest = data.partition(b"\r\n\r\n")
                    found = head.lower().split(b"content-length:")
                    length = int(found[1].split(b"\r\n")[0]) if len(found) > 1 else 0
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    conn.sendall(_render(200, {"Content-Type": "application/json"}, b"{}"))
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        url = f"https://localhost:{port}"
        untrusting = make_client("sesv2", region=REGION, endpoint_url=url, credentials=CREDS)
        with pytest.raises(SSLError):
            untrusting.get_account()
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as ca:
            ca.write(cert.cert_pem)
            ca.flush()
            trusting = make_client(
                "sesv2", region=REGION, endpoint_url=url, credentials=CREDS, verify=ca.name
            )
            assert trusting.get_account()["ResponseMetadata"]["HTTPStatusCode"] == 200
            trusting.close()
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_answer_sent_before_the_body_was_read() -> None:
    """A server that refuses a large body from its head (413) and closes: the 413 is the answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    error = json.dumps({"message": "Request too large."}).encode()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            conn.sendall(
                _render(
                    413, {"x-amzn-ErrorType": "BadRequestException", "Connection": "close"}, error
                )
            )
            conn.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):  # drain a little, then close with data unread
                conn.settimeout(0.2)
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        _, fast = _clients("sesv2", f"http://127.0.0.1:{port}", read_timeout=5)
        raw = b"x" * (8 * 1024 * 1024)
        with pytest.raises(ClientError) as caught:
            fast.send_email(FromEmailAddress="a@example.com", Content={"Raw": {"Data": raw}})
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert caught.value.response["Error"]["Code"] == "BadRequestException"
    finally:
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("via", ["ses", "ses-bulk", "pinpoint"])
def test_toolkit_send_same_statuses_with_either_client(sandbox: Any, via: str) -> None:
    """The whole path (compose → engine → transport → client → sandbox) classifies alike."""
    import warnings

    import pandas as pd

    import toolkit
    from toolkit.sandbox.server import DEFAULT_SENDER
    from toolkit.targets import AwsTarget

    local = ["success", "bounce", "complaint", "suppressionlist", "ooto"]
    frame = pd.DataFrame(
        {"email": [f"{local[i % 5]}+{i}@simulator.amazonses.com" for i in range(20)]}
    )
    statuses = {}
    for fast in (False, True):
        target = AwsTarget(
            region=sandbox.region,
            endpoint_url=sandbox.endpoint_url,
            access_key_id=sandbox.access_key_id,
            secret_access_key=sandbox.secret_access_key,
            pinpoint_app_id=sandbox.pinpoint_app_id,
            fast=fast,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pinpoint's end-of-support notice
            result = toolkit.send(
                frame,
                via=via,
                target=target,
                sender=DEFAULT_SENDER,
                subject="s",
                text="t",
                workers=2,
                progress=False,
                allow_duplicates=True,
            )
        statuses[fast] = result["status"].astype(str).tolist()
    assert statuses[True] == statuses[False]
    assert "sent" in statuses[True]


def test_send_failing_on_a_reused_connection_is_sent_once_more_on_a_new_one() -> None:
    server = Stub(lambda *_: (200, {}, b'{"MessageId":"m-1"}'))
    try:
        _, fast = _clients("sesv2", server.url)
        assert fast.send_email(**_send("ok@example.com"))["MessageId"] == "m-1"
        pool = fast._operation("SendEmail").pool
        assert pool is not None
        (idle,) = pool._idle
        # A stale keep-alive socket: nothing to read (the idle check passes), sending fails.
        stale, peer = socket.socketpair()
        stale.shutdown(socket.SHUT_WR)
        idle.sock.close()
        idle.sock = stale
        assert fast.send_email(**_send("ok@example.com"))["MessageId"] == "m-1"
        assert fast.connections_opened == 2
        assert len(server.requests) == 2
        peer.close()
    finally:
        server.close()
