"""One options object: the public signatures and SendKeywords agree, and the keywords become
SendOptions in one place (no locals(), no __kwdefaults__)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pandas as pd
import pytest

import toolkit
from toolkit.errors import ConfigurationError
from toolkit.options import SendKeywords, SendOptions
from toolkit.transports.memory import RecordingTransport

ROOT = Path(__file__).resolve().parents[2]


def test_send_signature_is_the_keywords_dataclass() -> None:
    parameters = inspect.signature(toolkit.send).parameters
    keywords = {n: p.default for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    fields = {f.name: f.default for f in dataclasses.fields(SendKeywords)}
    assert keywords == fields


def test_other_entry_points_take_the_same_keywords_and_refuse_unknown_ones() -> None:
    frame = pd.DataFrame({"email": ["a@example.com"]})
    with pytest.raises(TypeError, match="nope"):
        toolkit.send_in_background(frame, "ses", nope=1, sender="s@example.com", subject="x")
    for entry in (toolkit.send_in_background, toolkit.send_partitioned):
        assert "**" in str(inspect.signature(entry))  # forwarded to SendKeywords(**keywords)


def test_target_has_one_meaning() -> None:
    with pytest.raises(ConfigurationError, match="transport="):
        SendOptions.from_keywords("ses", SendKeywords(target=RecordingTransport(), sender="s@x.io"))
    options = SendOptions.from_keywords(
        "ses", SendKeywords(transport=RecordingTransport(), sender="s@x.io", subject="s", text="t")
    )
    assert options.transport_name == "memory" and options.target is None


def test_partitioned_refusals_are_one_line() -> None:
    options = SendOptions.from_keywords(
        "ses", SendKeywords(sender="s@x.io", subject="s", text="t", limit=5)
    )
    with pytest.raises(ConfigurationError, match="limit="):
        options.for_partitions(["email"])
    keep = SendOptions.from_keywords(
        "ses", SendKeywords(sender="s@x.io", subject="s", text="t", keep=["nope"])
    )
    with pytest.raises(toolkit.MissingColumnError):
        keep.for_partitions(["email"])


def test_workers_default_is_the_engines() -> None:
    options = SendOptions.from_keywords("ses", SendKeywords(sender="s@x.io", subject="s"))
    assert options.config == toolkit.EngineConfig()


def test_no_module_reads_keywords_back_from_locals() -> None:
    for path in (ROOT / "toolkit").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "locals()" not in text and "__kwdefaults__" not in text, path
