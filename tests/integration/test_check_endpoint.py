"""``toolkit check`` names a wrong endpoint as the endpoint (issue 16): not "set working
credentials", and no HTML page pasted into the line. Each test failed before: the one line
was the credentials line, with the whole HTML 404 page in it."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator

import pytest

import toolkit
from toolkit.targets import AwsTarget

Answer = tuple[int, str, bytes, dict[str, str]]
HTML_404: Answer = (
    404,
    "text/html",
    b"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1>"
    b"<p>The requested URL was not found on this server.</p></body></html>",
    {},
)
NO_GET_ACCOUNT: Answer = (
    404,
    "application/json",
    json.dumps({"message": "Unknown operation: GET /v2/email/account"}).encode(),
    {"x-amzn-ErrorType": "UnknownOperationException"},
)


@pytest.fixture
def endpoint() -> Iterator[Callable[[Answer], str]]:
    servers: list[http.server.HTTPServer] = []

    def serve(answer: Answer) -> str:
        status, kind, body, headers = answer

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(status)
                for name, value in {"Content-Type": kind, **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def target(url: str) -> AwsTarget:
    return AwsTarget(
        region="us-east-1", endpoint_url=url, access_key_id="AKIAX", secret_access_key="s"
    )


@pytest.mark.parametrize(
    ("answer", "words"),
    [(HTML_404, "HTTP 404: an HTML page (404 Not Found)"), (NO_GET_ACCOUNT, "HTTP 404")],
)
def test_an_endpoint_that_is_not_ses_is_named_as_such(
    endpoint: Callable[[Answer], str], answer: Answer, words: str
) -> None:
    url = endpoint(answer)
    report = toolkit.check("ses", target=target(url), sender="a@example.com")
    (line,) = report.checks
    assert (line.name, line.passed) == ("endpoint", False)
    assert line.detail.startswith(f"{url} does not answer SES v2 GetAccount") and words in (
        line.detail
    )
    assert "<" not in line.detail and "credentials" not in line.fix
    assert "endpoint_url" in line.fix


def test_an_endpoint_nobody_answers_is_named_as_such() -> None:
    report = toolkit.check("ses", target=target("http://127.0.0.1:1"), sender="a@example.com")
    (line,) = report.checks
    assert (line.name, line.passed) == ("endpoint", False)
    assert line.detail.startswith("cannot reach http://127.0.0.1:1")
    assert "credentials" not in line.fix


def test_the_cli_prints_the_endpoint_line_without_the_page(
    endpoint: Callable[[Answer], str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from toolkit.cli import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAX")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    url = endpoint(HTML_404)
    status = main(["check", "--region", "us-east-1", "--endpoint-url", url, "--from", "a@b.org"])
    out = capsys.readouterr().out
    assert status == 3  # a failed check (1 is "a bug")
    assert out.splitlines()[0].startswith("[FAIL] endpoint")
    assert "<html>" not in out and "set working credentials" not in out
