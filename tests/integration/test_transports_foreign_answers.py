"""What the AWS transports make of answers that are not SES's (issue 16: H7, M1, L 302).

A tiny loopback HTTP server stands where a proxy or a captive portal would: it answers every
request with one canned response. The rule: ``sent`` only with a MessageId; an answer without
one is ``unknown``; an HTML/non-AWS page or a redirect is a configuration fault (one line,
naming the endpoint) that stops the run. And an unverified *sender* stops the run, while an
unverified *recipient* (SES's sandbox) refuses only its own message.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from toolkit.compose.message import Message, Template
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.targets import AwsTarget
from toolkit.transports.classify import unverified_sender
from toolkit.transports.registry import make_transport

SENDER = "sender@example.com"


class _Canned(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, str, bytes, dict[str, str]] = (200, "application/json", b"{}", {})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, content_type, body, extra = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Any]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    httpd.answer = (200, "application/json", b"{}", {})  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _target(server: Any) -> AwsTarget:
    host, port = server.server_address[:2]
    return AwsTarget(
        region="us-east-1",
        endpoint_url=f"http://{host}:{port}",
        access_key_id="AKIDEXAMPLE",
        secret_access_key="secret",
        pinpoint_app_id="app1",
    )


def _message(i: int = 0) -> Message:
    return Message(
        row_key=str(i),
        position=i,
        sender=SENDER,
        to=(f"user{i}@example.org",),
        subject="Hi",
        text="Hello",
        template=Template(subject="Hi {{name}}", text="Hello {{name}}"),
        template_data={"name": "Ann"},
    )


VIAS = ["ses", "ses-bulk", "pinpoint"]
HTML = b"<html><body>Please log in to the hotel Wi-Fi</body></html>"


def _send(server: Any, via: str) -> Any:
    with pytest.warns() if via == "pinpoint" else _nothing():
        transport = make_transport(via, _target(server), workers=1)
    with transport:
        return transport.send([_message(0), _message(1)])


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html; charset=utf-8", HTML), ("text/plain", b"OK")],
    ids=["html", "text"],
)
def test_a_non_aws_200_is_a_configuration_error_naming_the_endpoint(
    server: Any, via: str, content_type: str, body: bytes
) -> None:
    server.answer = (200, content_type, body, {})
    with pytest.raises(ProviderConfigurationError) as info:
        _send(server, via)
    assert info.value.code == "NonAwsAnswer"
    assert f"127.0.0.1:{server.server_address[1]}" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"MessageId": null}', b'{"MessageId": "', b'{"MessageId": ""}'],
    ids=["empty", "null", "truncated", "blank"],
)
def test_a_json_200_without_a_message_id_is_never_sent(server: Any, via: str, body: bytes) -> None:
    if via == "ses-bulk":
        body = body.replace(b'{"MessageId"', b'{"BulkEmailEntryResults": [{"Status": "SUCCESS"}, '
                            b'{"Status": "SUCCESS", "MessageId"')  # fmt: skip
        if body.endswith(b"}"):
            body += b"]}"
    elif via == "pinpoint":
        inner = body
        body = (b'{"Result": {"user0@example.org": {"DeliveryStatus": "SUCCESSFUL", "StatusCode": '
                b'200}, "user1@example.org": ' + inner + b"}}")  # fmt: skip
    server.answer = (200, "application/json", body, {})
    replies = _send(server, via)
    assert len(replies) == 2
    assert all(r.verdict is Verdict.UNKNOWN for r in replies), replies
    assert not any(r.message_id for r in replies)


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_a_configuration_error_not_a_retry(
    server: Any, via: str, status: int
) -> None:
    server.answer = (status, "text/html", b"", {"Location": "https://portal.example/login"})
    with pytest.raises(ProviderConfigurationError) as info:
        _send(server, via)
    assert info.value.code == "EndpointRedirect"
    assert "portal.example" in str(info.value)
    assert f":{server.server_address[1]}" in str(info.value)


@pytest.mark.parametrize("via", VIAS)
def test_an_html_404_is_a_configuration_error_not_a_rejected_row(server: Any, via: str) -> None:
    server.answer = (404, "text/html", b"<html>Not Found</html>", {})
    with pytest.raises(ProviderConfigurationError) as info:
        _send(server, via)
    assert info.value.code == "NonAwsAnswer"


_SENDER_REFUSED = (
    b'{"message": "Email address is not verified. The following identities failed the check '
    b'in region US-EAST-1: Shop <sender@example.com>"}'
)


@pytest.mark.parametrize("via", ["ses", "ses-bulk"])
def test_an_unverified_sender_stops_the_run(server: Any, via: str) -> None:
    server.answer = (400, "application/json", _SENDER_REFUSED,
                     {"x-amzn-ErrorType": "MessageRejected"})  # fmt: skip
    with pytest.raises(ProviderConfigurationError) as info:
        _send(server, via)
    assert info.value.code == "SenderNotVerified"


def test_an_unverified_recipient_is_that_rows_rejection(server: Any) -> None:
    body = _SENDER_REFUSED.replace(b"Shop <sender@example.com>", b"user0@example.org")
    server.answer = (400, "application/json", body, {"x-amzn-ErrorType": "MessageRejected"})
    replies = _send(server, "ses")
    assert [r.verdict for r in replies] == [Verdict.REJECTED] * 2


def test_unverified_sender_reads_ses_wording() -> None:
    text = ("Email address is not verified. The following identities failed the check in "
            "region EU-WEST-1: Shop <Sender@Example.com>, b@example.org")  # fmt: skip
    assert unverified_sender(text, "sender@example.com")
    assert unverified_sender(text, "Shop <sender@example.com>")
    assert not unverified_sender(text, "other@example.com")
    assert unverified_sender("Email address sender@example.com is not verified.", SENDER)
    assert not unverified_sender("Email address a@example.org is not verified.", SENDER)
    assert not unverified_sender("Throttling: rate exceeded", SENDER)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("via", ["ses", "ses-bulk", "pinpoint", "smtp"])
def test_an_unverified_sender_stops_the_run_against_the_sandbox(via: str, tmp_path: Any) -> None:
    """M1 end to end: nothing final, so a resume after verifying sends every row."""
    import pandas as pd

    from toolkit.api import send
    from toolkit.sandbox import Sandbox

    df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(5)]})
    ledger = tmp_path / "run.sqlite"
    with Sandbox() as box:
        with pytest.raises(ProviderConfigurationError) as info:
            send(df, via, target=box, sender="news@unverified.example", subject="Hi",
                 text="x", progress=False, workers=1, ledger=ledger)  # fmt: skip
        assert info.value.code == "SenderNotVerified"
        assert box.mailbox.count() == 0
        box.verify_identity("news@unverified.example")
        results = send(df, via, target=box, sender="news@unverified.example", subject="Hi",
                       text="x", progress=False, workers=1, ledger=ledger)  # fmt: skip
        assert list(results["status"]) == ["sent"] * 5
        assert box.mailbox.count() == 5
