"""FastClient builds the same request boto3 builds: body, path, query, and SigV4 signature.

boto3 is intercepted at its ``before-send`` hook (no socket is opened), with botocore's clock
frozen, so the comparison is against what boto3 itself would put on the wire.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError, ParamValidationError
from botocore.serialize import create_serializer

from tests.helpers import freeze_botocore_clock
from toolkit.aws.client import FastClient, FastClientHandoverWarning, make_client
from toolkit.aws.http import Endpoint
from toolkit.aws.sigv4 import SigV4Signer, canonical_query

FROZEN = dt.datetime(2026, 3, 14, 15, 9, 26)
AMZ_DATE = "20260314T150926Z"
ENDPOINT = "http://127.0.0.1:9"  # never contacted: boto3 is stopped at before-send
STATIC = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TEMPORARY = Credentials("ASIAEXAMPLE", "c2VjcmV0", "FQoGZXIvYXdzEXAMPLE//token==")


class _Captured:
    """Stops boto3 at before-send, keeping the prepared request."""

    def __init__(self) -> None:
        self.request: Any = None

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.request = request
        raw = _Raw(b"{}")
        return AWSResponse(request.url, 200, {"x-amzn-requestid": "r"}, raw)


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._data


@functools.cache
def _capturing_boto3(service: str, creds: Credentials) -> tuple[Any, _Captured]:
    """One boto3 client per service and credentials (clients are slow to build)."""
    frozen = creds.get_frozen_credentials()
    client = boto3.client(
        service,
        region_name="eu-west-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
        config=Config(retries={"max_attempts": 1}),
    )
    captured = _Captured()
    client.meta.events.register("before-send", captured)
    return client, captured


def _boto3_request(service: str, method: str, params: dict[str, Any], creds: Credentials) -> Any:
    client, captured = _capturing_boto3(service, creds)
    getattr(client, method)(**params)
    return captured.request


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_botocore_clock(monkeypatch, FROZEN)


@functools.cache
def _fast(service: str, creds: Credentials = STATIC) -> FastClient:
    return make_client(service, region="eu-west-1", endpoint_url=ENDPOINT, credentials=creds)


RAW_MIME = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody \xe2\x9c\x93\r\n"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "sesv2",
        "send_email",
        {
            "FromEmailAddress": "Sender <sender@example.com>",
            "Destination": {"ToAddresses": ["b@example.com"], "CcAddresses": []},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Grüße ✓", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "hello\nworld"}, "Html": {"Data": "<p>hi</p>"}},
                }
            },
            "EmailTags": [{"Name": "campaign", "Value": "spring"}],
            "ConfigurationSetName": "cs-1",
        },
    ),
    (
        "sesv2",
        "send_email",
        {"FromEmailAddress": "a@example.com", "Content": {"Raw": {"Data": RAW_MIME}}},
    ),
    (
        "sesv2",
        "send_bulk_email",
        {
            "FromEmailAddress": "a@example.com",
            "DefaultContent": {
                "Template": {"TemplateName": "welcome", "TemplateData": '{"name":"x"}'}
            },
            "BulkEmailEntries": [
                {
                    "Destination": {"ToAddresses": [f"r{i}@example.com"]},
                    "ReplacementEmailContent": {
                        "ReplacementTemplate": {"ReplacementTemplateData": f'{{"n":{i}}}'}
                    },
                }
                for i in range(50)
            ],
        },
    ),
    ("sesv2", "get_account", {}),
    ("sesv2", "get_email_template", {"TemplateName": "my template/ü ~x"}),
    ("sesv2", "delete_email_template", {"TemplateName": "t1"}),
    (
        "sesv2",
        "create_email_template",
        {
            "TemplateName": "t1",
            "TemplateContent": {"Subject": "Hi {{name}}", "Text": "x", "Html": "<b>x</b>"},
        },
    ),
    ("sesv2", "create_email_identity", {"EmailIdentity": "sender@example.com"}),
    ("sesv2", "list_email_identities", {"PageSize": 10, "NextToken": "a b+c/d=="}),
    (
        "pinpoint",
        "send_messages",
        {
            "ApplicationId": "app-123",
            "MessageRequest": {
                "Addresses": {f"u{i}@example.com": {"ChannelType": "EMAIL"} for i in range(100)},
                "MessageConfiguration": {
                    "EmailMessage": {
                        "FromAddress": "a@example.com",
                        "SimpleEmail": {
                            "Subject": {"Charset": "UTF-8", "Data": "s"},
                            "TextPart": {"Charset": "UTF-8", "Data": "t"},
                        },
                    }
                },
            },
        },
    ),
    ("pinpoint", "get_email_template", {"TemplateName": "t 1", "Version": "2"}),
    ("pinpoint", "get_app", {"ApplicationId": "app-123"}),
    ("pinpoint", "create_app", {"CreateApplicationRequest": {"Name": "demo"}}),
    (
        "pinpoint",
        "create_email_template",
        {"TemplateName": "t1", "EmailTemplateRequest": {"Subject": "s", "TextPart": "t"}},
    ),
]


@pytest.mark.parametrize("creds", [STATIC, TEMPORARY], ids=["static", "session-token"])
@pytest.mark.parametrize(
    ("service", "method", "params"), CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES]
)
@pytest.mark.usefixtures("frozen_clock")
def test_request_matches_boto3(
    service: str, method: str, params: dict[str, Any], creds: Credentials
) -> None:
    expected = _boto3_request(service, method, params, creds)
    got = _fast(service, creds).build_request(method, params, amz_date=AMZ_DATE)

    assert got.method == expected.method
    assert f"{ENDPOINT}{got.target}" == expected.url
    assert got.body == (expected.body or b"")
    for name in ("Authorization", "X-Amz-Date", "Content-Type", "X-Amz-Security-Token"):
        value = expected.headers.get(name)
        value = value.decode() if isinstance(value, bytes) else value
        assert got.headers.get(name) == value, name
    assert "X-Amz-Date" in got.headers and "Authorization" in got.headers


def test_body_equals_botocore_serializer() -> None:
    client = _fast("sesv2")
    params = CASES[1][2]
    op = client.meta.service_model.operation_model("SendEmail")
    expected = create_serializer("rest-json").serialize_to_request(params, op)["body"]
    got = client.build_request("send_email", params, amz_date=AMZ_DATE).body
    assert got == expected
    # The blob really is base64 on the wire.
    assert base64.b64decode(json.loads(got)["Content"]["Raw"]["Data"]) == RAW_MIME


@pytest.mark.parametrize("creds", [STATIC, TEMPORARY], ids=["static", "session-token"])
def test_signature_equals_sigv4auth(monkeypatch: pytest.MonkeyPatch, creds: Credentials) -> None:
    """Our signer against botocore's SigV4Auth on a hand-built request with a query string."""
    freeze_botocore_clock(monkeypatch, FROZEN)
    url = "https://email.eu-west-1.amazonaws.com/v2/email/templates/a%20b?b=2&a=1&a=0"
    body = b'{"x": "\xc3\xbc"}'
    headers = {"Content-Type": "application/json", "X-Amz-Meta": "  spaced   value "}
    request = AWSRequest(method="PUT", url=url, headers=dict(headers), data=body)
    SigV4Auth(creds, "ses", "eu-west-1").add_auth(request)

    frozen = creds.get_frozen_credentials()
    signed = {k.lower(): v for k, v in headers.items()}
    signed |= {"host": "email.eu-west-1.amazonaws.com", "x-amz-date": AMZ_DATE}
    if frozen.token:
        signed["x-amz-security-token"] = frozen.token
    got = SigV4Signer("ses", "eu-west-1").authorization(
        frozen,
        AMZ_DATE,
        "PUT",
        "/v2/email/templates/a%2520b",
        canonical_query("b=2&a=1&a=0"),
        signed,
        body,
    )
    assert got == request.headers["Authorization"]


def test_signing_key_cached_per_day_and_secret() -> None:
    signer = SigV4Signer("ses", "us-east-1")
    k1 = signer.signing_key("s1", "20260101")
    assert signer.signing_key("s1", "20260101") is k1
    assert signer.signing_key("s1", "20260102") != k1
    assert signer.signing_key("s2", "20260102") != signer.signing_key("s1", "20260102")
    assert "s1" not in repr(signer) and "s1" not in repr(signer._cached)


def test_validation_error_is_botocores() -> None:
    params: dict[str, Any] = {"FromEmailAddress": 5, "Destination": {"ToAddresses": "x"}}
    with pytest.raises(ParamValidationError) as fast_error:
        _fast("sesv2").send_email(**params)
    boto = boto3.client(
        "sesv2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    with pytest.raises(ParamValidationError) as boto_error:
        boto.send_email(**params)
    assert str(fast_error.value) == str(boto_error.value)
    assert "Missing required parameter" in str(fast_error.value)


def test_keyword_arguments_only() -> None:
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        _fast("sesv2").get_account({})


def test_unknown_attribute_and_exceptions_like_boto3() -> None:
    client = _fast("sesv2")
    assert client.exceptions.TooManyRequestsException.__name__ == "TooManyRequestsException"
    assert client.exceptions.from_code("MessageRejected") is client.exceptions.MessageRejected
    assert "send_bulk_email" in dir(client)
    assert client.can_paginate("send_email") is False  # falls through to the boto3 client
    with pytest.raises(AttributeError):
        _ = client.no_such_operation


def test_no_credentials_raises_like_boto3() -> None:
    client = FastClient(
        boto3.client(
            "sesv2",
            region_name="eu-west-1",
            endpoint_url=ENDPOINT,
            aws_access_key_id="a",
            aws_secret_access_key="b",
        ),
        credentials=None,
    )
    with pytest.raises(NoCredentialsError):
        client.get_account()


def test_repr_has_no_secrets() -> None:
    client = _fast("sesv2", TEMPORARY)
    prepared = client.build_request("get_account", {}, amz_date=AMZ_DATE)
    op = client._operation("GetAccount")
    text = repr(client) + repr(prepared) + repr(op.signer) + repr(op.pool)
    assert TEMPORARY.secret_key not in text
    assert TEMPORARY.token not in text
    assert "Authorization" not in repr(prepared)


def test_endpoint_comes_from_botocore_and_host_header() -> None:
    assert Endpoint.parse("https://email.eu-west-1.amazonaws.com").host_header == (
        "email.eu-west-1.amazonaws.com"
    )
    assert Endpoint.parse("http://127.0.0.1:8080/base/").base_path == "/base"
    assert Endpoint.parse("http://[::1]:8080").host_header == "[::1]:8080"
    with pytest.raises(ValueError):
        Endpoint.parse("ftp://example.com")
    client = make_client("sesv2", region="eu-west-1", credentials=STATIC)
    assert client.endpoint_url == "https://email.eu-west-1.amazonaws.com"
    prepared = client.build_request("get_account", {}, amz_date=AMZ_DATE)
    assert prepared.host == "email.eu-west-1.amazonaws.com"


def test_query_protocol_service_is_handed_to_boto3() -> None:
    with pytest.warns(FastClientHandoverWarning, match="rest-json"):
        client = make_client("ses", region="eu-west-1", credentials=STATIC)
    assert not isinstance(client, FastClient)
    assert type(client).__name__ == "SES"


# -- the compiled validator and serializer -----------------------------------------------------


def _sample(shape: Any, depth: int = 0) -> Any:
    """A value botocore's validator accepts for ``shape`` (optional members skipped when deep)."""
    kind = shape.type_name
    low = shape.metadata.get("min", 0)
    if kind == "structure":
        if shape.is_document_type:
            return {"doc": [1, "two", {"three": 3.0}]}
        required = set(shape.metadata.get("required", ()))
        names = [n for n in shape.members if depth < 4 or n in required]
        if shape.is_tagged_union:
            names = names[:1] or list(shape.members)[:1]
        return {n: _sample(shape.members[n], depth + 1) for n in names}
    if kind == "list":
        return [_sample(shape.member, depth + 1) for _ in range(max(low, 1))] if depth < 6 else []
    if kind == "map":
        return {"k" * max(shape.key.metadata.get("min", 1), 1): _sample(shape.value, depth + 1)}
    if kind == "string":
        enum = shape.enum
        return enum[0] if enum else "v ü/" + "x" * max(low, 1)
    if kind in ("integer", "long"):
        return max(int(low), 7)
    if kind in ("float", "double"):
        return 2.5
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"\x00\xffbytes"
    if kind == "timestamp":
        return dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    raise AssertionError(kind)


def _mutations(params: dict[str, Any], shape: Any) -> list[dict[str, Any]]:
    out = [{**params, "NoSuchMember": "x"}]
    for name in shape.metadata.get("required", ()):
        out.append({k: v for k, v in params.items() if k != name})
    for name, value in params.items():
        wrong: Any = 5 if isinstance(value, str) else "not-a-" + type(value).__name__
        out.append({**params, name: wrong})
        out.append({**params, name: None})
        if isinstance(value, dict) and value:
            inner = next(iter(value))
            out.append({**params, name: {**value, inner: object()}})
    return out


@pytest.mark.parametrize("service", ["sesv2", "pinpoint"])
def test_compiled_path_equals_botocore_for_every_operation(service: str) -> None:
    """For every operation: the fast check never accepts what botocore rejects, and the
    compiled request equals botocore's serializer output byte for byte."""
    from botocore.validate import ParamValidator

    from toolkit.aws.serializer import CompiledRequest, compile_check

    client = _fast(service)
    model = client.meta.service_model
    serializer = create_serializer("rest-json", include_validation=False)
    validator = ParamValidator()
    memo: dict[str, Any] = {}
    compared = 0
    for name in model.operation_names:
        op = model.operation_model(name)
        if op.input_shape is None:
            continue
        check = compile_check(op.input_shape, memo)
        compiled = CompiledRequest.compile(op, serializer)
        params = _sample(op.input_shape)
        for candidate in [params, *_mutations(params, op.input_shape)]:
            if validator.validate(candidate, op.input_shape).has_errors():
                assert not check(candidate), (name, candidate)
        if validator.validate(params, op.input_shape).has_errors():
            continue
        assert check(params), name
        if compiled is not None:
            assert compiled.build(params) == serializer.serialize_to_request(params, op), name
            compared += 1
    # The rest carry query-string or header members and use botocore's serializer.
    assert compared >= 0.6 * len(model.operation_names)


@pytest.mark.parametrize(
    ("service", "method", "params"), CASES, ids=[f"{c[0]}.{c[1]}" for c in CASES]
)
def test_transport_operations_take_the_compiled_path(
    service: str, method: str, params: dict[str, Any]
) -> None:
    client = _fast(service)
    op = client._operation(client._method_to_api[method])
    assert op.check(params)
    locations = {m.serialization.get("location") for m in op.input_shape.members.values()}
    if "querystring" in locations:
        assert op.compiled is None  # botocore's serializer does query strings
        return
    assert op.compiled is not None
    expected = create_serializer("rest-json").serialize_to_request(params, op.model)
    assert op.compiled.build(params) == expected


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (TimeoutError("timed out"), "ConnectTimeoutError"),
        (ConnectionRefusedError(111, "refused"), "EndpointConnectionError"),
        (OSError(-2, "Name or service not known"), "EndpointConnectionError"),
    ],
)
def test_connect_failures_map_to_botocore(
    monkeypatch: pytest.MonkeyPatch, raised: OSError, expected: str
) -> None:
    """Nothing was sent: the classes boto3 raises for a connect failure."""
    import botocore.exceptions

    from toolkit.aws import http as _http11

    def fail(*_: Any, **__: Any) -> Any:
        raise raised

    monkeypatch.setattr(_http11.socket, "create_connection", fail)
    client = make_client("sesv2", region="eu-west-1", endpoint_url=ENDPOINT, credentials=STATIC)
    with pytest.raises(getattr(botocore.exceptions, expected)) as error:
        client.get_account()
    assert ENDPOINT in str(error.value)


def test_multi_region_endpoint_id_goes_through_boto3() -> None:
    params = {**CASES[0][2], "EndpointId": "abc123.xyz"}
    with pytest.raises(ValueError, match="made by boto3"):
        _fast("sesv2").build_request("send_email", params, amz_date=AMZ_DATE)


def test_refreshable_credentials_are_reread() -> None:
    """Temporary credentials that expire are refreshed by botocore, and the next call uses them."""
    from botocore.credentials import RefreshableCredentials

    issued = []

    def refresh() -> dict[str, str]:
        issued.append(1)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        return {
            "access_key": f"ASIAREFRESHED{len(issued)}",
            "secret_key": "s2",
            "token": "t2",
            "expiry_time": expiry.isoformat(),
        }

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()
    creds = RefreshableCredentials.create_from_metadata(
        {"access_key": "ASIAOLD", "secret_key": "s1", "token": "t1", "expiry_time": soon},
        refresh,
        "test",
    )
    client = make_client("sesv2", region="eu-west-1", endpoint_url=ENDPOINT, credentials=creds)
    prepared = client.build_request("get_account", {}, amz_date=AMZ_DATE)
    assert "Credential=ASIAREFRESHED1/" in prepared.headers["Authorization"]
    assert prepared.headers["X-Amz-Security-Token"] == "t2"


def test_configured_proxy_hands_over_to_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.warns(FastClientHandoverWarning, match="proxy"):
        client = make_client("sesv2", region="eu-west-1", credentials=STATIC)
    assert not isinstance(client, FastClient)
    # A plain-HTTP endpoint is not proxied by HTTPS_PROXY, for boto3 either.
    assert isinstance(
        make_client("sesv2", region="eu-west-1", endpoint_url=ENDPOINT, credentials=STATIC),
        FastClient,
    )


# -- the guard: what the fast client relies on (issue 17) --------------------------------------


def _with_model(change: Any) -> Any:
    """A stand-in for a boto3 SES v2 client whose model went through ``change(description)``."""
    import copy
    import types

    from botocore.model import ServiceModel

    real = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")  # fmt: skip
    description = copy.deepcopy(real.meta.service_model._service_description)
    change(description)
    meta = types.SimpleNamespace(service_model=ServiceModel(description, "sesv2"))
    return types.SimpleNamespace(meta=meta, _ruleset_resolver=real._ruleset_resolver)


def test_documentation_enum_and_unused_operations_do_not_change_the_fingerprint() -> None:
    from toolkit.aws.settings import RECORDED_FINGERPRINTS, dependency_fingerprint

    def cosmetic(d: dict[str, Any]) -> None:
        d["shapes"]["SendEmailRequest"]["documentation"] = "<p>reworded</p>"
        d["operations"]["SendEmail"]["documentation"] = "<p>reworded</p>"
        d["shapes"]["AttachmentContentDisposition"]["enum"].append("NEW")
        d["operations"]["ListContacts"]["http"]["requestUri"] = "/v3/elsewhere"

    assert dependency_fingerprint(_with_model(cosmetic)) == RECORDED_FINGERPRINTS["sesv2"]


def test_a_changed_member_changes_only_its_operations_part() -> None:
    from toolkit.aws.settings import RECORDED_FINGERPRINTS, fingerprint_changes

    def member(d: dict[str, Any]) -> None:
        d["shapes"]["Destination"]["members"]["ToAddresses"]["locationName"] = "to"

    assert fingerprint_changes(_with_model(member)) == ["SendEmail", "SendBulkEmail"]

    def signer(d: dict[str, Any]) -> None:
        d["metadata"]["signatureVersion"] = "v4a"

    assert fingerprint_changes(_with_model(signer)) == ["signer"]
    assert set(RECORDED_FINGERPRINTS["sesv2"]) >= {"endpoint parameters", "signer"}
