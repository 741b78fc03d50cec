"""The fast client is boto3 on the wire: both clients send the same calls to a loopback socket.

For every configuration of the matrix — Region × FIPS × dual-stack × endpoint (AWS's, a custom
one from ``AWS_ENDPOINT_URL_<SERVICE>``, a custom one with a base path) × credentials (static,
with a session token, refreshing, refreshing with a token) — each operation the toolkit uses
is sent once through plain boto3 (``AwsTarget(fast=False)``) and once through the fast client
(``AwsTarget()``), at the same fixed signing time. A recording server on 127.0.0.1 captures
both requests; they must agree on the host connected to, the request line, every header
(names and values; the user agent and the random invocation id aside) including the
signature, and the body.

AWS's own host names are kept: name resolution is redirected to the loopback server, which
presents a certificate for every host of the matrix, trusted through ``AWS_CA_BUNDLE`` — so
the CA-bundle setting is exercised by both clients too. Setups the fast client does not
reproduce are asserted to be handed over to boto3.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import itertools
import socket
import ssl
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.credentials import CredentialProvider, RefreshableCredentials

import toolkit.aws.client as fastaws
from tests.helpers import freeze_botocore_clock
from toolkit.aws.client import FastClient, FastClientHandoverWarning
from toolkit.aws.settings import (
    FINGERPRINTED_OPERATIONS,
    RECORDED_FINGERPRINTS,
    dependency_fingerprint,
)
from toolkit.targets import AwsTarget

FROZEN = dt.datetime(2026, 11, 26, 9, 30, 15)
AMZ_DATE = FROZEN.strftime("%Y%m%dT%H%M%SZ")
REGIONS = ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1")
SUFFIX = {"cn-north-1": "amazonaws.com.cn"}
DUAL_SUFFIX = {"cn-north-1": "api.amazonwebservices.com.cn"}
PREFIX = {"sesv2": "email", "pinpoint": "pinpoint"}
IGNORED = {"user-agent", "amz-sdk-invocation-id"}  # differ by design / at random
APP = "0123456789abcdef0123456789abcdef"

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody \xe2\x9c\x93\r\n"
SIMPLE = {"Simple": {"Subject": {"Data": "Grüße ✓"}, "Body": {"Text": {"Data": "hello"}}}}
OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "sesv2",
        "send_email",
        {
            "FromEmailAddress": "Shop <sender@example.com>",
            "Destination": {"ToAddresses": ["b@example.com"]},
            "Content": SIMPLE,
            "ConfigurationSetName": "events",
            "EmailTags": [{"Name": "campaign", "Value": "nov"}],
        },
    ),
    (
        "sesv2",
        "send_email",
        {"FromEmailAddress": "a@example.com", "Content": {"Raw": {"Data": RAW}}},
    ),
    (
        "sesv2",
        "send_bulk_email",
        {
            "FromEmailAddress": "a@example.com",
            "DefaultContent": {"Template": {"TemplateName": "t", "TemplateData": "{}"}},
            "BulkEmailEntries": [
                {"Destination": {"ToAddresses": [f"r{i}@example.com"]}} for i in range(50)
            ],
        },
    ),
    ("sesv2", "get_account", {}),
    ("sesv2", "get_email_identity", {"EmailIdentity": "sender+x@example.com"}),
    ("sesv2", "get_email_template", {"TemplateName": "order confirmation/ü"}),
    ("sesv2", "get_configuration_set", {"ConfigurationSetName": "events"}),
    ("sesv2", "list_email_identities", {"PageSize": 10}),
    ("sesv2", "list_email_templates", {"PageSize": 10, "NextToken": "a b"}),
    ("sesv2", "delete_email_template", {"TemplateName": "t"}),
    (
        "sesv2",
        "create_email_template",
        {"TemplateName": "t", "TemplateContent": {"Subject": "Hi {{name}}", "Text": "ü"}},
    ),
    (
        "pinpoint",
        "create_email_template",
        {"TemplateName": "t", "EmailTemplateRequest": {"Subject": "s", "TextPart": "x"}},
    ),
    ("pinpoint", "get_email_channel", {"ApplicationId": APP}),
    ("pinpoint", "get_email_template", {"TemplateName": "t"}),
    (
        "pinpoint",
        "send_messages",
        {
            "ApplicationId": APP,
            "MessageRequest": {
                "Addresses": {"b@example.com": {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {
                    "EmailMessage": {
                        "FromAddress": "a@example.com",
                        "SimpleEmail": {
                            "Subject": {"Data": "s"},
                            "TextPart": {"Data": "t"},
                        },
                    }
                },
            },
        },
    ),
]


def _hosts() -> list[str]:
    names = []
    for region, service in itertools.product(REGIONS, PREFIX):
        suffix = SUFFIX.get(region, "amazonaws.com")
        dual = DUAL_SUFFIX.get(region, "api.aws")
        for prefix in (PREFIX[service], PREFIX[service] + "-fips"):
            names += [f"{prefix}.{region}.{suffix}", f"{prefix}.{region}.{dual}"]
    return names


@dataclass
class Captured:
    """One request as it arrived: the host name the client resolved, and what it sent."""

    host: str
    request_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def comparable(self) -> tuple[str, str, dict[str, str], bytes]:
        kept = {name: value for name, value in self.headers if name.lower() not in IGNORED}
        return self.host, self.request_line, kept, self.body

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n.lower() == name), None)


@dataclass
class Recorder:
    """A TLS listener (AWS host names) and a plain one (custom endpoints) on 127.0.0.1."""

    tls_port: int = 0
    http_port: int = 0
    requests: list[Captured] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # host names handed to getaddrinfo
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, context: ssl.SSLContext) -> None:
        self._tls = socket.create_server(("127.0.0.1", 0))
        self._http = socket.create_server(("127.0.0.1", 0))
        self.tls_port = self._tls.getsockname()[1]
        self.http_port = self._http.getsockname()[1]
        for listener, wrap in ((self._tls, context), (self._http, None)):
            listener.settimeout(0.2)
            thread = threading.Thread(target=self._accept, args=(listener, wrap), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _accept(self, listener: socket.socket, context: ssl.SSLContext | None) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(raw, context), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket, context: ssl.SSLContext | None) -> None:
        raw.settimeout(5)
        try:
            conn = context.wrap_socket(raw, server_side=True) if context else raw
            with conn:
                buf = b""
                while not self._stop.is_set():
                    while b"\r\n\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    headers = [
                        (n.strip(), v.strip()) for n, _, v in (x.partition(":") for x in lines[1:])
                    ]
                    length = int(dict((n.lower(), v) for n, v in headers).get("content-length", 0))
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    body, buf = buf[:length], buf[length:]
                    host = self.resolved[-1] if context else "127.0.0.1"
                    self.requests.append(Captured(host, lines[0], headers, body))
                    answer = b"{}"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"x-amzn-RequestId: r-1\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(answer), answer)
                    )
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self._stop.set()
        self._tls.close()
        self._http.close()
        for thread in self._threads:
            thread.join(2)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A certificate for every AWS host of the matrix, and the CA file that trusts it."""
    from toolkit.sandbox.tls import SelfSignedCertificate

    hosts = _hosts()
    pair = SelfSignedCertificate.generate(hosts[0], also=hosts[1:])
    folder = tmp_path_factory.mktemp("tls")
    cert_file = folder / "cert.pem"
    cert_file.write_bytes(pair.cert_pem)
    return pair.server_context(), cert_file


@pytest.fixture(scope="module")
def recorder(certificate: tuple[ssl.SSLContext, Path]) -> Iterator[Recorder]:
    server = Recorder()
    server.start(certificate[0])
    yield server
    server.close()


@pytest.fixture
def wire(
    recorder: Recorder, certificate: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> Recorder:
    """Name resolution to the recorder, its CA trusted, the signing time fixed, a clean env."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in HOSTS:
            recorder.resolved.append(name)
            return real_getaddrinfo("127.0.0.1", recorder.tls_port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in (
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SESV2",
        "AWS_ENDPOINT_URL_PINPOINT",
        "AWS_PROFILE",
        "AWS_CONFIG_FILE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/toolkit-test-config")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate[1]))
    monkeypatch.setattr(fastaws, "_amz_date", lambda: AMZ_DATE)
    freeze_botocore_clock(monkeypatch, FROZEN)
    recorder.requests.clear()
    recorder.resolved.clear()
    return recorder


HOSTS = frozenset(_hosts())

# -- credentials ------------------------------------------------------------------------------


class _Generations(CredentialProvider):
    """Refreshing credentials: every read refreshes, and the keys change with ``generation``."""

    METHOD = "toolkit-test-refreshing"

    def __init__(self, with_token: bool) -> None:
        super().__init__()
        self.generation = 1
        self.with_token = with_token

    def _issue(self) -> dict[str, Any]:
        # Five minutes left: inside botocore's mandatory refresh window, so each read refreshes.
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        return {
            "access_key": f"ASIAGEN{self.generation:05d}",
            "secret_key": f"secret/{self.generation}+key",
            "token": f"token//{self.generation}==" if self.with_token else None,
            "expiry_time": expiry.isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(self._issue(), self._issue, self.METHOD)


def _session(region: str, kind: str) -> tuple[boto3.Session, _Generations | None]:
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    if kind.startswith("refreshing"):
        provider = _Generations(with_token=kind.endswith("token"))
        resolver = core.get_component("credential_provider")
        resolver.insert_before("env", provider)
        return boto3.Session(botocore_session=core, region_name=region), provider
    token = "FwoGZXIvYXdzEBkaDSESSION//token==" if kind == "token" else None
    return (
        boto3.Session(
            botocore_session=core,
            region_name=region,
            aws_access_key_id="AKIAWIRETEST",
            aws_secret_access_key="wire/Secret+Key",
            aws_session_token=token,
        ),
        None,
    )


_LOADER = botocore.session.get_session().get_component("data_loader")  # models parsed once


# -- the matrix -------------------------------------------------------------------------------

ENDPOINTS = ("aws", "env-custom", "custom-with-path")
CREDENTIALS = ("static", "token", "refreshing", "refreshing-token")
MATRIX = list(itertools.product(REGIONS, (False, True), (False, True), ENDPOINTS, CREDENTIALS))


def _ids(case: tuple[Any, ...]) -> str:
    region, fips, dual, endpoint, creds = case
    return f"{region}-{'fips' if fips else 'std'}-{'dual' if dual else 'v4'}-{endpoint}-{creds}"


def _clients(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch, case: tuple[Any, ...]
) -> tuple[dict[str, Any], dict[str, Any], _Generations | None]:
    region, fips, dual, endpoint, creds = case
    if fips:
        monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    if dual:
        monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", "true")
    endpoint_url = None
    if endpoint == "env-custom":
        for service in ("SESV2", "PINPOINT"):
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", f"http://127.0.0.1:{wire.http_port}")
    elif endpoint == "custom-with-path":
        endpoint_url = f"http://127.0.0.1:{wire.http_port}/ses-gateway/v1/"
    session, provider = _session(region, creds)
    plain = AwsTarget(region=region, endpoint_url=endpoint_url, session=session, fast=False)
    fast = AwsTarget(region=region, endpoint_url=endpoint_url, session=session)
    boto = {service: plain.make_client(service) for service in PREFIX}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FastClientHandoverWarning)
        quick = {service: fast.make_client(service) for service in PREFIX}
    return boto, quick, provider


def _in_the_inner_loop(case: tuple[Any, ...]) -> bool:
    """16 of the matrix's cases: each Region with one endpoint kind (in turn) and every FIPS ×
    dual-stack pair, each pair with its own kind of credentials; so every value of every axis
    is in it. The other cases are marked ``slow``: the default run has them all."""
    region, fips, dual, endpoint, creds = case
    return ENDPOINTS.index(endpoint) == REGIONS.index(region) % len(ENDPOINTS) and (
        CREDENTIALS.index(creds) == 2 * fips + dual
    )


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=() if _in_the_inner_loop(c) else pytest.mark.slow) for c in MATRIX],
    ids=[_ids(c) for c in MATRIX],
)
def test_fast_client_is_boto3_on_the_wire(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch, case: tuple[Any, ...]
) -> None:
    boto, quick, provider = _clients(wire, monkeypatch, case)
    assert all(isinstance(client, FastClient) for client in quick.values())
    for (service, method, params), generation in zip(OPERATIONS, itertools.count(1)):
        if provider is not None:
            provider.generation = generation  # new keys for each pair: re-read per request
        getattr(boto[service], method)(**params)
        getattr(quick[service], method)(**params)
        expected, got = wire.requests[-2:]
        assert got.comparable() == expected.comparable(), (service, method, got, expected)
        assert "md/toolkit-fastaws" in (got.header("user-agent") or "")
        uuid.UUID(got.header("amz-sdk-invocation-id") or "")
        if provider is not None:
            assert f"Credential=ASIAGEN{generation:05d}/" in (got.header("authorization") or "")
    for client in (*boto.values(), *quick.values()):
        client.close()


def test_fips_connects_to_the_same_host_as_boto3(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto, quick, _ = _clients(wire, monkeypatch, ("us-east-1", True, False, "aws", "static"))
    boto["sesv2"].get_account()
    quick["sesv2"].get_account()
    assert wire.resolved[-2:] == ["email-fips.us-east-1.amazonaws.com"] * 2
    assert [r.header("host") for r in wire.requests[-2:]] == [
        "email-fips.us-east-1.amazonaws.com"
    ] * 2


# -- hand-overs --------------------------------------------------------------------------------


def _hands_over(target: AwsTarget, match: str) -> Any:
    with pytest.warns(FastClientHandoverWarning, match=match):
        client = target.make_client("sesv2")
    assert not isinstance(client, FastClient)
    return client


def test_a_proxy_hands_over_to_boto3(wire: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    session, _ = _session("eu-west-1", "static")
    _hands_over(AwsTarget(region="eu-west-1", session=session), "proxy")


def test_an_untested_botocore_with_the_same_models_keeps_the_fast_client(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: the guard is what the fast client relies on, not a version range."""
    monkeypatch.setattr(botocore, "__version__", "1.99.0")
    session, _ = _session("eu-west-1", "static")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FastClientHandoverWarning)
        client = AwsTarget(region="eu-west-1", session=session).make_client("sesv2")
    assert isinstance(client, FastClient)
    client.get_account()
    assert "md/toolkit-fastaws" in (wire.requests[-1].header("user-agent") or "")


class _ChangedModels:
    """The shared loader, with one member added to SendEmail's input (a new botocore's model)."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def load_service_model(self, service: str, type_name: str, api_version: Any = None) -> Any:
        model = self._loader.load_service_model(service, type_name, api_version)
        if service == "sesv2" and type_name == "service-2":
            model = copy.deepcopy(model)
            members = model["shapes"]["SendEmailRequest"]["members"]
            members["TenantName"] = {"shape": "EmailAddress", "location": "header",
                                     "locationName": "x-amz-tenant"}  # fmt: skip
        return model


def test_a_changed_operation_shape_hands_over_with_one_warning(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, _ = _session("eu-west-1", "static")
    session._session.register_component("data_loader", _ChangedModels(_LOADER))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = AwsTarget(region="eu-west-1", session=session).make_client("sesv2")
    handovers = [w for w in caught if issubclass(w.category, FastClientHandoverWarning)]
    assert len(handovers) == 1, [str(w.message) for w in caught]
    assert "SendEmail" in str(handovers[0].message)
    assert not isinstance(client, FastClient)
    client.get_account()  # and boto3 sends it, as it would on its own
    assert "md/toolkit-fastaws" not in (wire.requests[-1].header("user-agent") or "")


def test_the_recorded_fingerprints_are_these_models() -> None:
    """The contract: RECORDED_FINGERPRINTS describe the models this differential test runs
    against. When botocore's models change, the fast client hands over (above) until this
    test has passed on the new models and their fingerprints are recorded."""
    for service in FINGERPRINTED_OPERATIONS:
        client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")  # fmt: skip
        assert dependency_fingerprint(client) == RECORDED_FINGERPRINTS[service], (
            f"{service}'s models changed in botocore {botocore.__version__}: run this "
            "differential test, then record toolkit.aws.settings.print_fingerprints()"
        )


def test_a_multi_region_endpoint_call_goes_through_boto3(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EndpointId routes to a global endpoint signed with SigV4a: the fast client lets the
    boto3 client it holds make that call, so both end the same way."""
    boto, quick, _ = _clients(wire, monkeypatch, ("us-east-1", False, False, "aws", "static"))
    params = {**OPERATIONS[0][2], "EndpointId": "abcd1234.efgh"}
    outcomes = []
    for client in (boto["sesv2"], quick["sesv2"]):
        try:
            client.send_email(**params)
            outcomes.append(("sent", wire.requests[-1].comparable()))
        except Exception as exc:  # no CRT installed: both raise the same error
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1]


def test_the_client_certificate_and_timeouts_come_from_boto3(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from botocore.config import Config

    from toolkit.sandbox.tls import SelfSignedCertificate

    pair = SelfSignedCertificate.generate("client")
    (tmp_path / "c.pem").write_bytes(pair.cert_pem)
    (tmp_path / "k.pem").write_bytes(pair.key_pem)
    config = Config(
        client_cert=(str(tmp_path / "c.pem"), str(tmp_path / "k.pem")),
        connect_timeout=3.5,
        read_timeout=7.25,
        tcp_keepalive=True,
        retries={"total_max_attempts": 1},
    )
    client = fastaws.make_client("sesv2", region="eu-west-1", config=config)
    assert isinstance(client, FastClient)
    pool = client._operation("GetAccount").pool
    assert pool is not None
    assert (pool.connect_timeout, pool.read_timeout) == (3.5, 7.25)
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in pool.socket_options
    assert pool._ssl is not None
    client.close()


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_no_notice_when_nothing_is_handed_over(
    wire: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, _ = _session("eu-west-1", "static")
    with _no_warnings():
        assert isinstance(
            AwsTarget(region="eu-west-1", session=session).make_client("sesv2"), FastClient
        )
