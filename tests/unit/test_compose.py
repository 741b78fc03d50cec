"""Pre-flight and rendering of toolkit.compose: per-row outcomes, config errors, modes."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.compose import ComposeSpec, plan
from toolkit.compose.message import Attachment, ContentMode, Message
from toolkit.errors import ConfigurationError, MissingColumnError
from toolkit.results import Outcome, Status

DATA = Path(__file__).resolve().parents[2] / "data"
SENDER = "Shop <shop@example.com>"
LIMIT = 40 * 1024 * 1024


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["success+1@simulator.amazonses.com", "Ana@Bücher.Example", "bad@",
                      None, "josé@example.com", "x@example.com",
                      "success+1@simulator.amazonses.com", " padded@example.com "],
            "first_name": ["José", "Zoë", "x", "y", "z", "Eve\r\nBcc: evil@example.com",
                           "José", "Pat"],
            "order_id": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, np.nan],
        }
    )  # fmt: skip


def _spec(**kwargs: object) -> ComposeSpec:
    base: dict[str, object] = dict(
        sender=SENDER, name_column="first_name",
        subject="Order {{order_id}} for {{ first_name }}",
        text="Hi {{first_name}}\n", html="<p>Hi {{first_name}} & co</p>",
    )  # fmt: skip
    base.update(kwargs)
    return ComposeSpec(**base)  # type: ignore[arg-type]


def _plan(df: pd.DataFrame, mode: ContentMode = ContentMode.RAW, **kwargs: object):
    limit = kwargs.pop("limit", LIMIT)
    return plan(df, _spec(**kwargs), mode=mode, max_message_bytes=limit, transport="t")  # type: ignore[arg-type]


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_preflight_turns_bad_rows_into_outcomes() -> None:
    p = _plan(_frame())
    codes = {pos: (o.status, o.error_code) for pos, o in p.preflight.items()}
    assert codes == {
        2: (Status.INVALID, "InvalidAddress"),
        3: (Status.INVALID, "MissingValue"),
        4: (Status.INVALID, "NonAsciiLocalPart"),
        5: (Status.INVALID, "HeaderInjection"),
        6: (Status.SKIPPED, "DuplicateRecipient"),
        7: (Status.INVALID, "MissingValue"),
    }
    assert p.sendable == [0, 1]
    assert p.size == 8 and p.row_keys == [str(i) for i in range(8)]
    bad = p.preflight[2]
    assert bad.recipient == "bad@" and bad.transport == "t" and "@-sign" in bad.error_message
    assert "order_id" in p.preflight[7].error_message
    assert "'0'" in p.preflight[6].error_message  # names the first occurrence


def test_content_hash_is_stable_and_content_sensitive() -> None:
    first, again = _plan(_frame()), _plan(_frame())
    assert first.content_hashes == again.content_hashes
    assert first.content_hashes[0] == first.content_hashes[6]  # the duplicate
    assert len(set(first.content_hashes)) == 7
    changed = _plan(_frame(), text="Hello {{first_name}}\n")
    assert changed.content_hashes[0] != first.content_hashes[0]
    fields = _plan(_frame(), ContentMode.FIELDS)
    assert fields.content_hashes == first.content_hashes  # the mode is not content


def test_duplicates_allowed_when_asked() -> None:
    p = _plan(_frame(), allow_duplicates=True)
    assert 6 in p.sendable


def test_raw_message_round_trips() -> None:
    p = _plan(_frame())
    first, second = p.render([0, 1])
    assert isinstance(first, Message) and isinstance(second, Message)
    assert second.to == ("Ana@xn--bcher-kva.example",)  # IDN domain -> punycode
    assert first.row_key == "0" and first.position == 0
    parsed = _parse(first.raw or b"")
    assert parsed["Subject"] == "Order 1 for José"  # whole floats render without .0
    assert parsed["To"].addresses[0].display_name == "José"
    assert parsed["From"].addresses[0].display_name == "Shop"
    assert parsed["Date"] is not None and parsed["MIME-Version"] == "1.0"
    assert "Bcc" not in parsed
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == "Hi José\n"
    assert html is not None and html.get_content() == "<p>Hi José & co</p>"
    assert first.envelope_sender == "shop@example.com"


def test_html_values_are_escaped() -> None:
    df = pd.DataFrame({"email": ["a@example.com"], "first_name": ["<b>&"], "order_id": [1]})
    (message,) = _plan(df, ContentMode.FIELDS).render([0])
    assert isinstance(message, Message)
    assert message.html == "<p>Hi &lt;b&gt;&amp; & co</p>"
    assert message.text == "Hi <b>&\n"
    assert message.subject == "Order 1 for <b>&"
    assert message.raw is None


def test_fields_mode_with_attachment_also_fills_raw() -> None:
    attachment = Attachment("invoice.pdf", b"%PDF-1.4 fake", "application/pdf")
    (message,) = _plan(_frame().head(1), ContentMode.FIELDS, attachments=(attachment,)).render([0])
    assert isinstance(message, Message) and message.raw is not None
    parsed = _parse(message.raw)
    files = [part for part in parsed.iter_attachments()]
    assert [f.get_filename() for f in files] == ["invoice.pdf"]
    assert files[0].get_content() == b"%PDF-1.4 fake"
    assert message.attachments == (attachment,)


def test_template_mode_shares_one_template() -> None:
    p = _plan(_frame(), ContentMode.TEMPLATE)
    first, second = p.render(p.sendable)
    assert isinstance(first, Message) and isinstance(second, Message)
    assert first.template is second.template is p.template
    assert p.template is not None and set(p.template.placeholders) == {"order_id", "first_name"}
    assert first.template_data == {"order_id": "1", "first_name": "José"}
    assert first.raw is None and first.subject == ""


def test_stored_template_uses_template_columns() -> None:
    spec = ComposeSpec(sender=SENDER, template_name="order", template_columns=("first_name",))
    p = plan(_frame(), spec, mode=ContentMode.TEMPLATE, max_message_bytes=LIMIT, transport="t")
    (message,) = p.render([0])
    assert isinstance(message, Message) and message.template_data == {"first_name": "José"}
    assert p.template is not None and p.template.name == "order"
    with pytest.raises(ConfigurationError, match="stored provider template"):
        plan(_frame(), spec, mode=ContentMode.RAW, max_message_bytes=LIMIT, transport="smtp")


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"to": "mail"}, MissingColumnError, "mail"),
        ({"subject": "Hi {{ nickname }}"}, MissingColumnError, "nickname"),
        ({"cc": "copy"}, MissingColumnError, "copy"),
        ({"sender": None}, ConfigurationError, "sender"),
        ({"text": None, "html": None, "subject": None}, ConfigurationError, "content"),
        ({"sender": "Shop <shop@example.com>\r\nBcc: x@y.z"}, ConfigurationError, "control"),
        ({"sender": "not an address"}, ConfigurationError, "sender"),
        ({"headers": (("Subject", "x"),)}, ConfigurationError, "Subject"),
        ({"headers": (("X-Ok", "a\nb"),)}, ConfigurationError, "control"),
        ({"tags": (("campaign", "é"),)}, ConfigurationError, "ASCII"),
        ({"subject": "Hi\r\n{{first_name}}"}, ConfigurationError, "subject"),
    ],
)
def test_configuration_errors(kwargs: dict[str, object], error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        _plan(_frame(), **kwargs)


def test_duplicate_row_keys_are_a_configuration_error() -> None:
    df = pd.concat([_frame(), _frame()])
    with pytest.raises(ConfigurationError, match="not unique"):
        _plan(df)
    df = df.reset_index(drop=True).assign(key=[f"k{i}" for i in range(16)])
    assert _plan(df, key_column="key").row_keys[:2] == ["k0", "k1"]


def test_multiple_recipients_cc_bcc_reply_to_and_limit() -> None:
    df = pd.DataFrame(
        {
            "email": ["a@example.com; b@example.com", "c@example.com"],
            "copy": ["Carla <carla@example.com>", None],
            "hidden": ["h@example.com", ",".join(f"u{i}@example.com" for i in range(50))],
            "reply": ["r@example.com", None],
            "first_name": ["A", "C"],
            "order_id": [1, 2],
        }
    )
    p = _plan(df, cc="copy", bcc="hidden", reply_to="reply")
    assert p.preflight[1].error_code == "TooManyRecipients"
    (message,) = p.render([0])
    assert isinstance(message, Message)
    assert message.to == ("a@example.com", "b@example.com")
    assert message.cc == ("carla@example.com",) and message.bcc == ("h@example.com",)
    assert message.reply_to == ("r@example.com",)
    parsed = _parse(message.raw or b"")
    assert "Bcc" not in parsed and b"h@example.com" not in (message.raw or b"")
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@example.com", "b@example.com"]
    assert parsed["To"].addresses[0].display_name == ""  # a name only for one To address
    assert parsed["Reply-To"].addresses[0].addr_spec == "r@example.com"


def test_sender_column_per_row() -> None:
    df = _frame().head(2).assign(sender=["Shop A <a@shop.example>", "b@shop.example\r\n"])
    p = _plan(df, sender=None, sender_column="sender")
    assert p.preflight[1].error_code == "HeaderInjection"
    (message,) = p.render([0])
    assert isinstance(message, Message) and message.sender == "Shop A <a@shop.example>"
    assert _parse(message.raw or b"")["From"].addresses[0].display_name == "Shop A"


def test_size_limit_in_preflight_and_render() -> None:
    df = pd.DataFrame(
        {"email": ["a@example.com", "b@example.com"], "first_name": ["A", "B"],
         "order_id": ["x " * 2500, "é" * 1500]}
    )  # fmt: skip
    p = _plan(df, limit=4000)
    assert p.preflight[0].error_code == "TooLarge"  # the cheap floor already exceeds it
    (late,) = p.render([1])  # passes the floor, but QP-encoded é is bigger: exact check
    assert isinstance(late, Outcome) and late.error_code == "TooLarge"


def test_attachment_column(tmp_path: Path) -> None:
    invoice = tmp_path / "Rechnung für Ana.pdf"
    invoice.write_bytes(b"%PDF data")
    df = _frame().head(2).assign(file=[str(invoice), str(tmp_path / "missing.pdf")])
    p = _plan(df, ContentMode.FIELDS, attachment_column="file", attachment_dir=tmp_path)
    assert p.preflight[1].error_code == "AttachmentNotFound"
    (message,) = p.render([0])
    assert isinstance(message, Message) and message.raw is not None
    (part,) = _parse(message.raw).iter_attachments()
    assert part.get_filename() == "Rechnung für Ana.pdf"
    assert part.get_content_type() == "application/pdf"


def test_render_returns_preflight_outcome_for_invalid_rows() -> None:
    p = _plan(_frame())
    rendered = p.render([2, 0])
    assert rendered[0] is p.preflight[2]
    assert isinstance(rendered[1], Message)


def test_preview_and_summary() -> None:
    p = _plan(_frame())
    preview = p.preview(2)
    assert list(preview["to"]) == ["success+1@simulator.amazonses.com", "Ana@xn--bcher-kva.example"]
    assert preview["subject"].iloc[0] == "Order 1 for José"
    assert (preview["size"] > 0).all()
    assert preview["text"].iloc[0] == "Hi José\n"  # the text part in full, never cut
    long = _plan(_frame(), text="Hi {{first_name}}, " + "word " * 40).preview(1)
    assert long["text"].iloc[0].endswith("word ") and len(long["text"].iloc[0]) > 200
    summary = p.summary()
    assert summary["sendable"] == 2 and summary["invalid:MissingValue"] == 2
    assert len(p.problems()) == 6


def test_subject_only_message_has_an_empty_body() -> None:
    for mode in (ContentMode.RAW, ContentMode.FIELDS):
        (message,) = _plan(_frame().head(1), mode, text=None, html=None).render([0])
        assert isinstance(message, Message) and message.text == ""
        assert message.subject == "Order 1 for José"
    assert message.raw is None
    (raw,) = _plan(_frame().head(1), text=None, html=None).render([0])
    assert isinstance(raw, Message) and _parse(raw.raw or b"").get_content() == ""


def test_stored_template_defaults_to_every_column() -> None:
    df = pd.DataFrame({"email": ["a@example.com", "b@example.com"], 7: ["x", None]})
    spec = ComposeSpec(sender=SENDER, template_name="order")
    p = plan(df, spec, mode=ContentMode.TEMPLATE, max_message_bytes=LIMIT, transport="t")
    assert "template_columns" in (p.preflight[1].error_message or "")
    (message,) = p.render([0])
    assert isinstance(message, Message)
    assert message.template_data == {"email": "a@example.com", "7": "x"}


def test_missing_display_name_means_no_name() -> None:
    df = _frame().head(1).assign(first_name=[None])
    p = _plan(df, subject="Hi", text="x\n", html=None)
    (message,) = p.render([0])
    assert isinstance(message, Message) and message.extra == {}
    assert _parse(message.raw or b"")["To"].addresses[0].display_name == ""


def test_long_display_name_is_invalid() -> None:
    df = _frame().head(1).assign(first_name="N" * 151)
    assert _plan(df).preflight[0].error_code == "InvalidValue"


def test_empty_frame() -> None:
    p = _plan(_frame().head(0))
    assert p.size == 0 and p.sendable == [] and p.render([]) == []


def test_sample_data_preflight() -> None:
    df = pd.read_csv(DATA / "recipients.csv", dtype=str, keep_default_na=False, na_values=[""])
    folder = DATA / "templates"
    spec = ComposeSpec(
        sender=SENDER, name_column="first_name",
        subject=(folder / "order_confirmation.subject.txt").read_text("utf-8").strip(),
        text=(folder / "order_confirmation.txt").read_text("utf-8"),
        html=(folder / "order_confirmation.html").read_text("utf-8"),
    )  # fmt: skip
    p = plan(df, spec, mode=ContentMode.RAW, max_message_bytes=LIMIT, transport="smtp")
    assert len(df) >= 1000 and len(p.preflight) <= len(df) // 100
    assert {o.error_code for o in p.preflight.values()} == {
        "InvalidAddress", "MissingValue", "HeaderInjection", "NonAsciiLocalPart",
        "DuplicateRecipient",
    }  # fmt: skip
    for message in p.render(p.sendable[:50]):
        assert isinstance(message, Message) and message.raw is not None
        parsed = _parse(message.raw)
        assert parsed["Subject"].startswith("Your order A-")


def test_configuration_set_and_tags_become_ses_headers_in_raw_mode() -> None:
    p = _plan(_frame().head(1), configuration_set="cs-1", tags=(("campaign", "nov"),))
    (message,) = p.render([0])
    assert isinstance(message, Message) and message.configuration_set == "cs-1"
    parsed = _parse(message.raw or b"")
    assert parsed["X-SES-CONFIGURATION-SET"] == "cs-1"
    assert parsed["X-SES-MESSAGE-TAGS"] == "campaign=nov"
    assert message.tags == (("campaign", "nov"),)


def test_values_that_are_not_valid_unicode_become_invalid_not_exceptions() -> None:
    df = pd.DataFrame(
        {"email": ["a@example.com", "\ud800@example.com"], "first_name": ["A\ud800", "B"],
         "order_id": [1, 2]},
        dtype=object,
    )  # fmt: skip
    p = _plan(df)
    assert p.preflight[1].error_code in {"InvalidAddress", "NonAsciiLocalPart"}
    (late,) = p.render([0])
    assert isinstance(late, Outcome) and late.error_code == "InvalidValue"


def test_simple_address_split_without_arrow_matches_arrow() -> None:
    from toolkit.compose.columns import simple_addresses as _simple_addresses

    cells = ["a@example.com", "b@Example.com", None, "bad", "c@example.com"]
    arrow = _simple_addresses(pd.Series(cells, dtype="str"))
    python = _simple_addresses(pd.Series([*cells[:3], 42, cells[4]], dtype=object))
    assert arrow[0].tolist() == [True, True, False, False, True]
    assert python[0].tolist() == [True, True, False, False, True]
    for result in (arrow, python):
        domains = [result[3][c] if c >= 0 else None for c in result[2]]
        assert domains == ["example.com", "Example.com", None, None, "example.com"]
        assert result[4](np.array([0, 4])) == ["a", "c"]


def test_attachments_resolve_only_under_attachment_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 9, row 13: a frame may come from someone else; only files under attachment_dir
    # (default: the working directory) are attached, whatever the path says.
    inside = tmp_path / "box"
    (inside / "sub").mkdir(parents=True)
    (inside / "sub" / "ok.txt").write_text("fine")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not mail")
    (inside / "link.txt").symlink_to(secret)
    (inside / "dirlink").symlink_to(tmp_path)
    cells = ["sub/ok.txt", str(inside / "sub" / "ok.txt"), "/etc/hostname", "../secret.txt",
             "link.txt", "dirlink/secret.txt", "sub/../sub/ok.txt", "nope.txt",
             "a\x00b"]  # fmt: skip
    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(len(cells))],
                       "first_name": ["A"] * len(cells), "order_id": [1] * len(cells),
                       "file": cells})  # fmt: skip
    monkeypatch.chdir(inside)  # the default attachment_dir
    p = _plan(df, ContentMode.FIELDS, attachment_column="file", allow_duplicates=True)
    codes = {i: p.preflight[i].error_code for i in p.preflight}
    assert codes == {2: "AttachmentNotAllowed", 3: "AttachmentNotAllowed",
                     4: "AttachmentNotAllowed", 5: "AttachmentNotAllowed",
                     7: "AttachmentNotFound", 8: "AttachmentNotFound"}  # fmt: skip
    assert "outside the attachment directory" in p.preflight[2].error_message
    assert "attachment_dir=" in p.preflight[2].error_message
    assert p.sendable == [0, 1, 6]
    for message in p.render(p.sendable):
        assert isinstance(message, Message) and message.raw is not None
        (part,) = _parse(message.raw).iter_attachments()
        assert part.get_content() == "fine"
    # an explicit attachment_dir moves the fence
    p2 = _plan(df, ContentMode.FIELDS, attachment_column="file", allow_duplicates=True,
               attachment_dir=tmp_path)  # fmt: skip
    assert p2.sendable == [1]  # relative cells now start from tmp_path
    assert p2.preflight[0].error_code == "AttachmentNotFound"
    assert p2.preflight[2].error_code == "AttachmentNotAllowed"


def test_an_attachment_swapped_for_a_link_after_preflight_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("fine")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret")
    df = _frame().head(1).assign(file=["a.txt"])
    p = _plan(df, ContentMode.FIELDS, attachment_column="file", attachment_dir=tmp_path)
    (tmp_path / "a.txt").unlink()
    (tmp_path / "a.txt").symlink_to(outside)
    (late,) = p.render([0])
    assert isinstance(late, Outcome)
    assert (late.status, late.error_code) == (Status.INVALID, "AttachmentNotAllowed")
    outside.unlink()


def test_attachment_dir_must_be_a_directory(tmp_path: Path) -> None:
    df = _frame().head(1).assign(file=["a.txt"])
    with pytest.raises(ConfigurationError, match="attachment_dir"):
        _plan(df, attachment_column="file", attachment_dir=tmp_path / "missing")


def test_a_duplicate_in_other_letter_case_is_skipped_and_says_so() -> None:
    """SES compares the local part case-sensitively and would send both; one inbox gets
    both. The old pre-flight sent ``Ana@x`` and ``ana@x`` twice without a word."""
    df = pd.DataFrame({"email": ["ana@example.com", "Ana@Example.com", "bo@example.com"],
                       "first_name": ["Ana", "Ana", "Bo"], "order_id": [1, 1, 2]})  # fmt: skip
    p = _plan(df)
    assert p.sendable == [0, 2]
    skipped = p.preflight[1]
    assert skipped.status is Status.SKIPPED and skipped.error_code == "DuplicateRecipient"
    assert "but for letter case ('Ana@Example.com' and 'ana@example.com')" in skipped.error_message
    # the ledger's identity folds case as this rule does: a resume finds either copy's message
    assert p.content_hashes[0] == p.content_hashes[1]
    assert 1 in _plan(df, allow_duplicates=True).sendable
