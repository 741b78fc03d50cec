"""What compose accepts (issue 9): frame shapes, cell kinds, spec types, stored templates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from toolkit.compose import ComposeSpec, plan
from toolkit.compose.columns import not_plain
from toolkit.compose.frame import conform
from toolkit.compose.message import ContentMode, Template
from toolkit.compose.render import handlebars_names
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.results import Status
from toolkit.transports.ses_bulk import SesBulkTransport

SPEC = ComposeSpec(sender="shop@example.com", subject="Hi {{name}}", text="{{body}}")


def _plan(df: object, spec: ComposeSpec = SPEC, **kwargs: object):  # type: ignore[no-untyped-def]
    mode = kwargs.pop("mode", ContentMode.RAW)
    return plan(df, spec, mode=mode, max_message_bytes=10**7, transport="t", **kwargs)  # type: ignore[arg-type]


def test_not_plain_finds_the_cells_that_would_be_mailed_as_their_repr() -> None:
    series = pd.Series(["a", 1, 2.5, None, np.nan, pd.NA, b"x", ["l"], {"d": 1}, object(),
                        bytearray(b"y"), pd.Timestamp(0), True], dtype=object)  # fmt: skip
    assert [kind for _, kind in not_plain(series)] == [
        "bytes", "list", "dict", "object", "bytearray",
    ]  # fmt: skip
    assert [pos for pos, _ in not_plain(series)] == [6, 7, 8, 9, 10]
    assert not_plain(pd.Series(["a", None])) == []  # the C-level answer, no loop
    assert not_plain(pd.Series([1.0, 2.0])) == []
    categorical = pd.Series(pd.Categorical([b"x", "y", b"x"]))
    assert not_plain(categorical) == [(0, "bytes"), (2, "bytes")]


def test_cells_that_are_not_text_are_invalid_in_every_column_the_message_uses() -> None:
    df = pd.DataFrame({"email": ["a@example.com", "b@example.com", "c@example.com"],
                       "name": ["Ana", ("t",), "Cy"], "body": ["x", "y", {1, 2}],
                       "unused": [object(), b"", []]}, dtype=object)  # fmt: skip
    p = _plan(df)
    assert p.sendable == [0]
    assert {k: o.error_code for k, o in p.preflight.items()} == {
        1: "InvalidValue",
        2: "InvalidValue",
    }
    assert "column 'name' holds a value of type tuple" in p.preflight[1].error_message
    assert "column 'body' holds a value of type set" in p.preflight[2].error_message


@pytest.mark.parametrize("value", [None, [], "a@example.com", 3, np.array(["a"]), {"email": []}])
def test_conform_refuses_what_is_not_a_frame(value: object) -> None:
    with pytest.raises(ConfigurationError, match="needs a pandas DataFrame"):
        conform(value, SPEC)


def test_conform_names_columns_with_text_and_takes_a_series() -> None:
    df, _ = conform(pd.DataFrame([["a@example.com", "x"]]), SPEC)
    assert list(df.columns) == ["0", "1"]
    df, _ = conform(pd.Series(["a@example.com"], name="other"), SPEC)
    assert list(df.columns) == ["email"]
    with pytest.raises(ConfigurationError, match="column '1' appears 2 times"):
        conform(pd.DataFrame([[1, 2, 3]], columns=[1, "1", "email"]), ComposeSpec(to=1))


def test_index_of_tuples_nan_and_odd_text_become_row_keys() -> None:
    df = pd.DataFrame({"email": ["a@example.com", "b@example.com", "c@example.com"],
                       "name": ["A", "B", "C"], "body": ["x", "y", "z"]},
                      index=pd.Index([np.nan, "\ud800", 1.5], dtype=object))  # fmt: skip
    p = _plan(df)
    assert p.row_keys == ["nan", "\ufffd" * 3, "1.5"]  # a lone surrogate: its three bytes


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"to": ["email"]}, "to must name one column (a string), not list"),
        ({"subject": b"Hi"}, "subject must be text (str), not bytes"),
        ({"sender": 42}, "sender must be text (str), not int"),
        ({"template_columns": "name"}, "template_columns must be a list of column names"),
        ({"template_columns": 5}, "template_columns must be a list of column names"),
        ({"tags": (("a",),)}, "tags must be (name, value) pairs of text"),
        ({"headers": {"X-A": 1}}, "headers must be (name, value) pairs of text"),
        ({"attachments": ("file.pdf",)}, "attachments must be a tuple of Attachment objects"),
        ({"allow_duplicates": "yes"}, "allow_duplicates must be True or False"),
        ({"attachment_dir": 5}, "attachment_dir must be a directory path"),
    ],
)
def test_compose_spec_checks_its_types(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        ComposeSpec(**kwargs)  # type: ignore[arg-type]


def test_a_numeric_column_reference_is_kept_as_text() -> None:
    spec = ComposeSpec(to=0, name_column=1, template_columns=(2, "x"))  # type: ignore[arg-type]
    assert (spec.to, spec.name_column, spec.template_columns) == ("0", "1", ("2", "x"))


def test_handlebars_names_never_miss_a_name() -> None:
    names = handlebars_names("{{#if vip}}Dear {{ name }}{{/if}} {{{raw}}} {{user.city}} "
                             "{{[first name]}} {{> partial}}")  # fmt: skip
    for name in ("vip", "name", "raw", "user", "user.city", "first name", "partial"):
        assert name in names


def _bulk_spec(**kwargs: object) -> ComposeSpec:
    return ComposeSpec(sender="shop@example.com", template_name="welcome", **kwargs)  # type: ignore[arg-type]


def test_stored_template_subject_decides_which_columns_are_checked() -> None:
    df = pd.DataFrame({"email": ["a@example.com", "b@example.com"],
                       "name": ["Ana", "Eve\nBcc: x@y.example"],
                       "address": ["1 Main St\nTown", "2 Elm St"]})  # fmt: skip
    stored = Template(subject="Welcome {{name}}", text="{{address}}", name="welcome")
    p = _plan(df, _bulk_spec(), mode=ContentMode.TEMPLATE, stored_template=stored)
    assert p.sendable == [0]  # a line break in a body column is fine
    assert p.preflight[1].error_code == "HeaderInjection"
    not_read = _plan(df, _bulk_spec(), mode=ContentMode.TEMPLATE)  # not read: every column
    assert not_read.sendable == []
    assert "was not read" in not_read.preflight[0].error_message
    assert not_read.preflight[0].status is Status.INVALID


class _Client:
    """Answers GetEmailTemplate with an error or a template; counts the calls."""

    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.calls = 0

    def get_email_template(self, TemplateName: str) -> dict[str, object]:
        self.calls += 1
        if self.error:
            answer = {"Error": {"Code": self.error, "Message": "no"},
                      "ResponseMetadata": {"HTTPStatusCode": 403}}  # fmt: skip
            raise ClientError(answer, "GetEmailTemplate")  # type: ignore[arg-type]
        return {"TemplateName": TemplateName, "TemplateContent": {"Subject": "Hi {{name}}"}}


def test_the_transport_reads_a_stored_template_once() -> None:
    client = _Client()
    transport = SesBulkTransport(client)
    first = transport.stored_template("welcome")
    assert first == Template(subject="Hi {{name}}", name="welcome")
    assert transport.stored_template("welcome") is first and client.calls == 1


def test_a_template_it_may_not_read_means_checking_every_column() -> None:
    client = _Client("AccessDeniedException")
    assert SesBulkTransport(client).stored_template("welcome") is None


@pytest.mark.parametrize("code", ["NotFoundException", "UnrecognizedClientException"])
def test_a_missing_template_or_bad_key_stops_before_sending(code: str) -> None:
    with pytest.raises(ProviderConfigurationError) as info:
        SesBulkTransport(_Client(code)).stored_template("welcome")
    assert info.value.code == code
