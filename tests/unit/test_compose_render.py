"""compose.render ({{column}} templates) and compose.addresses (validation, normalization)."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from toolkit.compose.addresses import AddressProblem, AddressValidator, parse_mailbox
from toolkit.compose.render import compile_template, placeholders


def test_placeholders_allow_whitespace_and_keep_first_use_order() -> None:
    assert placeholders("{{ b }} {{a}} {{\tb\t}} {{ first name }}") == ("b", "a", "first name")


def test_render_substitutes_and_keeps_literal_braces() -> None:
    tpl = compile_template("{x} {{ name }} {{{{ odd }} }} {{name}}")
    assert tpl.fields == ("name",) or tpl.fields == ("name", "odd")
    values = ["Ana"] * len(tpl.fields)
    rendered = tpl.render(values)
    assert rendered.startswith("{x} Ana ")
    assert rendered.endswith(" Ana")
    assert compile_template("no fields {}").render([]) == "no fields {}"


def test_values_are_inserted_verbatim_even_if_they_look_like_placeholders() -> None:
    tpl = compile_template("Hi {{name}}")
    assert tpl.render(["{{name}} {0}"]) == "Hi {{name}} {0}"


def test_html_escaping_only_for_html_templates() -> None:
    assert compile_template("<b>{{v}}</b>", escape_html=True).render(["<i>\"&'"]) == (
        "<b>&lt;i&gt;&quot;&amp;&#x27;</b>"
    )
    assert compile_template("{{v}}").render(["<i>"]) == "<i>"


def test_occurrences_and_literal_length() -> None:
    tpl = compile_template("ab {{x}} {{y}} {{x}}")
    assert tpl.occurrences == (2, 1) and tpl.literal_length == len("ab   ")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Ana@Example.COM", "Ana@example.com"),
        ("kunde@bücher.example", "kunde@xn--bcher-kva.example"),
        ("success+0001@simulator.amazonses.com", "success+0001@simulator.amazonses.com"),
        ("  padded@example.com ", "padded@example.com"),
    ],
)
def test_normalize(address: str, expected: str) -> None:
    assert AddressValidator().normalize(address) == expected


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("josé@example.com", "NonAsciiLocalPart"),
        ("bad@", "InvalidAddress"),
        ("a..b@example.com", "InvalidAddress"),
        ("a@b", "InvalidAddress"),
        ("", "MissingValue"),
        ('"quoted"@example.com', "InvalidAddress"),
        ("a@" + "l" * 64 + ".com", "InvalidAddress"),
    ],
)
def test_problems(address: str, code: str) -> None:
    problem = AddressValidator().normalize(address)
    assert isinstance(problem, AddressProblem) and problem.code == code and problem.message


def test_fast_path_agrees_with_email_validator() -> None:
    corpus = [
        "a@example.com", "A.B-c_d+e@sub.Example.org", "x@example", "a@-bad.com", "a@bad-.com",
        "a@exa mple.com", "a@ex..ample.com", "a@127.0.0.1", "a!#$%&'*+/=?^_`{|}~@example.com",
        "a@xn--bcher-kva.example", "a@" + "l" * 64 + ".com", "a@" + "l" * 63 + ".com",
        "a@example.com.", ".a@example.com", "a.@example.com", "a@例え.jp", "a@localhost",
        "a@example.invalid", "a@_srv.example.com", "x" * 65 + "@example.com",
        "x" * 64 + "@" + "d" * 60 + "." + "e" * 60 + "." + "f" * 60 + "." + "g" * 60 + ".com",
    ]  # fmt: skip
    validator = AddressValidator()
    for address in corpus:
        ours = validator.normalize(address)
        try:
            result = validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            assert isinstance(ours, AddressProblem), address
        else:
            if len(result.ascii_local_part or "") > 64:
                # Issue 16: stricter than email-validator here, as RFC 5321 is (64 octets).
                assert isinstance(ours, AddressProblem), address
                continue
            assert ours == f"{result.ascii_local_part}@{result.ascii_domain}", address


def test_cells_with_several_addresses_and_names() -> None:
    validator = AddressValidator()
    assert validator.normalize_cell("a@example.com; B@Example.com,") == (
        "a@example.com",
        "B@example.com",
    )
    assert validator.normalize_cell('"Lee, Ann" <ann@example.com>, bob@example.com') == (
        "ann@example.com",
        "bob@example.com",
    )
    injected = validator.normalize_cell("<a@example.com>\r\nBcc: <e@example.com>")
    assert isinstance(injected, AddressProblem) and injected.code == "HeaderInjection"
    problem = validator.normalize_cell("a@example.com, bad@")
    assert isinstance(problem, AddressProblem) and "bad@" in problem.message


def test_parse_mailbox() -> None:
    assert parse_mailbox("Shop <shop@example.com>") == ("Shop", "shop@example.com")
    assert parse_mailbox("shop@example.com") == ("", "shop@example.com")


def test_handlebars_required_names_only_what_cannot_render_without() -> None:
    from toolkit.compose.render import handlebars_required

    source = (
        "Hi {{ name }}, {{{raw_html}}} {{user.city}} {{#if vip}}{{vip_code}}{{else}}x{{/if}}"
        " {{! a comment }} {{> partial}} {{#each items}}{{this}}{{/each}} {{total}}"
    )
    assert handlebars_required(source) == ("name", "raw_html", "user", "total")
