"""Bad input on the wire: the sandbox answers like AWS, keeps serving, and loses nothing."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

from tests.helpers import sigv4_headers
from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
# For requests refused from their framing alone (the signature is never looked at).
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/us-east-1/ses/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
SEND_PATH = "/v2/email/outbound-emails"
GOOD = {
    "FromEmailAddress": SENDER,
    "Destination": {"ToAddresses": ["a@example.org"]},
    "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
}


def request(
    sandbox: Sandbox,
    method: str,
    path: str,
    body: bytes | dict[str, Any] | None = None,
    *,
    auth: bool = True,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.api_port, timeout=10)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"}
    if auth:
        host = f"127.0.0.1:{sandbox.api_port}"
        headers |= sigv4_headers(sandbox, method, path, data or b"", host=host, headers=headers)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            (json.loads(payload) if payload else {}),
        )
    finally:
        connection.close()


def raw_exchange(sandbox: Sandbox, data: bytes, *, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", sandbox.api_port), timeout=10) as sock:
        sock.sendall(data)
        if not read_until_close:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def head(sandbox: Sandbox, method: str, path: str, body: bytes, extra: str = "") -> bytes:
    """One signed request, as bytes."""
    signed = sigv4_headers(sandbox, method, path, body, host="x")
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {signed['Authorization']}\r\n"
        f"X-Amz-Date: {signed['X-Amz-Date']}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def test_a_good_raw_request_works(sandbox: Sandbox) -> None:
    status, headers, body = request(sandbox, "POST", SEND_PATH, GOOD)
    assert status == 200 and body["MessageId"].endswith("-000000")
    assert headers["x-amzn-requestid"]


def test_missing_authorization_is_403(sandbox: Sandbox) -> None:
    status, headers, body = request(sandbox, "POST", SEND_PATH, GOOD, auth=False)
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert body == {"message": "Missing Authentication Token"}
    assert sandbox.mailbox.count() == 0


def test_malformed_json_is_400(sandbox: Sandbox) -> None:
    status, headers, body = request(sandbox, "POST", SEND_PATH, b'{"FromEmailAddress": ')
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException"
    assert "JSON" in body["message"]
    status, _, body = request(sandbox, "POST", SEND_PATH, b"\xff\xfe garbage")
    assert status == 400


@pytest.mark.parametrize(
    ("mutate", "member"),
    [
        (lambda b: b.pop("Content"), "Missing required member Content"),
        (lambda b: b.update(Surprise=1), "Unknown member Surprise"),
        (
            lambda b: b["Destination"].update(ToAddresses="a@example.org"),
            "Invalid type for member Destination.ToAddresses",
        ),
        (
            lambda b: b["Content"]["Simple"].pop("Subject"),
            "Missing required member Content.Simple.Subject",
        ),
        (lambda b: b.update(FromEmailAddress=7), "Invalid type for member FromEmailAddress"),
    ],
)
def test_validation_errors_name_the_member(
    sandbox: Sandbox, mutate: Callable[[dict[str, Any]], Any], member: str
) -> None:
    body = json.loads(json.dumps(GOOD))
    mutate(body)
    status, headers, answer = request(sandbox, "POST", SEND_PATH, body)
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException"
    assert answer["message"].startswith(member)


def test_validation_error_via_boto3_without_client_validation(sandbox: Sandbox) -> None:
    client = sandbox.client(
        "sesv2", config=Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    with pytest.raises(client.exceptions.BadRequestException, match="Content"):
        client.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@x.org"]})
    pp = sandbox.client(
        "pinpoint", config=Config(parameter_validation=False, retries={"total_max_attempts": 1})
    )
    with pytest.raises(pp.exceptions.BadRequestException) as error:
        pp.create_app(CreateApplicationRequest={})
    assert "Missing required member Name" in error.value.response["Error"]["Message"]


def test_pinpoint_errors_have_message_and_request_id(sandbox: Sandbox) -> None:
    status, headers, body = request(sandbox, "GET", "/v1/apps/does-not-exist")
    assert status == 404 and headers["x-amzn-errortype"] == "NotFoundException"
    assert set(body) == {"Message", "RequestID"}


def test_unknown_path_and_method(sandbox: Sandbox) -> None:
    status, headers, _ = request(sandbox, "GET", "/nothing/here")
    assert status == 404 and headers["x-amzn-errortype"] == "UnknownOperationException"
    status, _, _ = request(sandbox, "PATCH", SEND_PATH, GOOD)
    assert status == 404


def test_oversized_body_gets_ses_answer_and_server_keeps_serving(sandbox: Sandbox) -> None:
    """Too large to read: the same answer SES gives any message over 40 MB (not a 413)."""
    size = 50 * 1024 * 1024
    announced = (
        f"POST {SEND_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    answer = raw_exchange(sandbox, announced + b"x" * 1000)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"BadRequestException" in answer
    assert f"Message length is more than 41943040 bytes long: '{size}'.".encode() in answer
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200


def test_chunked_bodies_are_refused(sandbox: Sandbox) -> None:
    data = (
        f"POST {SEND_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ).encode()
    assert raw_exchange(sandbox, data).startswith(b"HTTP/1.1 411 ")


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\r\n\r\n",  # TLS hello
        b"GET\r\n\r\n",
        b"POST / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
    ],
)
def test_garbage_gets_400_and_the_server_survives(sandbox: Sandbox, garbage: bytes) -> None:
    assert raw_exchange(sandbox, garbage).startswith(b"HTTP/1.1 400 ")
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200


def test_client_disconnecting_mid_request_loses_nothing(sandbox: Sandbox) -> None:
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200
    body = json.dumps(GOOD).encode()
    partial = head(sandbox, "POST", SEND_PATH, body)[: -len(body) // 2]
    for _ in range(5):
        raw_exchange(sandbox, partial, read_until_close=False)  # send half, hang up
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200
    assert sandbox.mailbox.count() == 2


def test_pipelined_requests_are_answered_in_order(sandbox: Sandbox) -> None:
    body = json.dumps(GOOD).encode()
    data = (
        head(sandbox, "POST", SEND_PATH, body)
        + head(sandbox, "GET", "/v2/email/account", b"")
        + head(sandbox, "POST", SEND_PATH, body, "Connection: close\r\n")
    )
    answer = raw_exchange(sandbox, data)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    first, second, third = (
        answer.index(b"MessageId"),
        answer.index(b"SendQuota"),
        answer.rindex(b"MessageId"),
    )
    assert first < second < third
    assert sandbox.mailbox.count() == 2


def test_keep_alive_serves_many_requests_on_one_connection(sandbox: Sandbox) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.api_port, timeout=10)
    body = json.dumps(GOOD)
    headers = {"Content-Type": "application/json"}
    host = f"127.0.0.1:{sandbox.api_port}"
    headers |= sigv4_headers(sandbox, "POST", SEND_PATH, body.encode(), host=host, headers=headers)
    try:
        for _ in range(50):
            connection.request("POST", SEND_PATH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()
    assert sandbox.mailbox.count() == 50


def test_restart_with_a_state_directory_keeps_everything(
    make_sandbox: Callable[..., Sandbox], tmp_path: Any
) -> None:
    first = make_sandbox(state_dir=tmp_path, smtp=False)
    ses = first.client("sesv2")
    ses.create_email_identity(EmailIdentity="corp.test")
    first.verify_identity("corp.test")  # the sandbox-only step (DNS records at AWS)
    ses.create_email_identity(EmailIdentity="pending.test")
    ses.delete_email_identity(EmailIdentity="example.com")
    ses.create_email_template(TemplateName="t", TemplateContent={"Subject": "x {{a}}"})
    app_id = first.client("pinpoint").create_app(CreateApplicationRequest={"Name": "kept"})[
        "ApplicationResponse"
    ]["Id"]
    message_id = ses.send_email(
        FromEmailAddress="ops@corp.test",
        Destination={"ToAddresses": ["a@x.org"]},
        Content=GOOD["Content"],
    )["MessageId"]
    keys = (first.access_key_id, first.secret_access_key)
    first.stop()
    assert first.mailbox.count() == 1  # still readable after stop

    second = make_sandbox(state_dir=tmp_path, smtp=False)
    assert (second.access_key_id, second.secret_access_key) == keys
    ses2 = second.client("sesv2")
    assert second.mailbox.count() == 1
    assert second.mailbox.message(message_id) is not None
    assert ses2.get_email_template(TemplateName="t")["TemplateContent"]["Subject"] == "x {{a}}"
    statuses = {
        i["IdentityName"]: i["VerificationStatus"]
        for i in ses2.list_email_identities()["EmailIdentities"]
    }
    assert statuses == {
        "corp.test": "SUCCESS",
        "pending.test": "PENDING",
        "sender@example.com": "SUCCESS",
    }
    assert (
        second.client("pinpoint").get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"]
        == "kept"
    )
    ses2.send_email(
        FromEmailAddress="ops@corp.test",
        Destination={"ToAddresses": ["b@x.org"]},
        Content=GOOD["Content"],
    )
    assert second.mailbox.count() == 2


@pytest.mark.slow
def test_mailbox_is_readable_from_another_process(
    make_sandbox: Callable[..., Sandbox], tmp_path: Any
) -> None:
    import subprocess
    import sys
    import time

    sandbox = make_sandbox(state_dir=tmp_path, smtp=False)
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200
    time.sleep(0.2)  # the mailbox flushes its buffer every 50 ms
    script = (
        "import sys; from toolkit.sandbox.mailbox import Mailbox; "
        "m = Mailbox.open(sys.argv[1]); print(m.count()); print(m.messages()['subject'][0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "s"]


def test_secrets_stay_out_of_reprs(sandbox: Sandbox) -> None:
    info = sandbox.info()
    assert info["endpoint_url"] == sandbox.endpoint_url and info["smtp_port"] == sandbox.smtp_port
    assert info["pinpoint_app_id"] and info["region"] == "us-east-1"
    for text in (repr(sandbox), repr(sandbox.mailbox), repr(sandbox.faults)):
        assert sandbox.secret_access_key not in text
        assert sandbox.smtp_password not in text


def test_a_request_arriving_byte_by_byte_is_served(sandbox: Sandbox) -> None:
    import time

    body = json.dumps(GOOD).encode()
    data = head(sandbox, "POST", SEND_PATH, body, "Connection: close\r\n")
    with socket.create_connection(("127.0.0.1", sandbox.api_port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(0, len(data), 7):
            sock.sendall(data[index : index + 7])
            if index % 140 == 0:
                time.sleep(0.001)  # make the server see many partial reads
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK") and b"MessageId" in answer
    assert sandbox.mailbox.count() == 1


def test_a_client_that_never_reads_does_not_stop_the_server(sandbox: Sandbox) -> None:
    body = json.dumps({"FromEmailAddress": SENDER}).encode()  # fails validation: small answers
    flood = head(sandbox, "POST", SEND_PATH, body) * 2000
    with socket.create_connection(("127.0.0.1", sandbox.api_port), timeout=10) as sock:
        sock.setblocking(False)
        sent = 0
        try:
            while sent < len(flood):
                sent += sock.send(flood[sent : sent + 65536])
        except BlockingIOError:
            pass  # the server stopped reading: back-pressure works
        assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200  # others are still served


@pytest.mark.parametrize("path", [SEND_PATH, "/v1/apps/app/messages"])
@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_json_nested_too_deep_is_a_400_and_the_server_keeps_serving(
    sandbox: Sandbox, path: str, depth: int
) -> None:
    # Issue 9, row 12: it used to get no answer and a RecursionError on the server's stderr.
    body = b"[" * depth + b"]" * depth
    status, headers, payload = request(sandbox, "POST", path, body)
    assert status == 400
    assert headers["x-amzn-errortype"] == "BadRequestException"
    message = payload.get("message") or payload.get("Message")
    assert message == "Could not parse the request body as JSON: nested too deeply."
    assert request(sandbox, "POST", SEND_PATH, GOOD)[0] == 200
