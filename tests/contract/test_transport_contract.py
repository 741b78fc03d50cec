"""Every transport keeps the same contract, checked by the same scenarios against the sandbox.

After Django's shared mail-backend tests: one suite, parametrized over every transport in the
registry plus the in-memory one. What each transport promises (``transports/base.py``):

* ``send(batch)`` answers with one reply per message, in order, and each accepted message
  lands at the provider exactly once, under the id the reply carries;
* throttling is an answer, not an exception, and the engine retries it and counts attempts;
* a connection dropped before the answer is ``UNKNOWN`` (it may have been delivered);
* a fault of the whole account raises ``ProviderConfigurationError`` once for the batch;
* credentials the provider refuses are a configuration error, never a per-row failure.

Transport-specific behaviour (Raw attachments, Pinpoint's duplicate addresses, stored
templates, SMTP pipelining and TLS) stays in the per-transport test files.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest

from tests.helpers import fake_time
from toolkit.api import send
from toolkit.compose.message import ContentMode, Message
from toolkit.compose.plan import plan
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Reply, Verdict
from toolkit.sandbox import Sandbox
from toolkit.sandbox.faults import FaultAction
from toolkit.sandbox.target import aws_target_for, smtp_target_for
from toolkit.transports.base import Transport
from toolkit.transports.memory import RecordingTransport
from toolkit.transports.pinpoint import PinpointEndOfSupportWarning
from toolkit.transports.registry import make_transport, names

SPEC = ComposeSpec(
    to="email",
    sender="Shop <sender@example.com>",
    subject="Order {{order}}",
    text="Hi {{name}}, order {{order}} has shipped.",
)


@dataclass
class Provider:
    """One transport under contract: how to make it and where its accepted mail lands."""

    name: str
    sandbox: Sandbox
    accepted_ids: list[str] = field(default_factory=list)  # the memory provider's "mailbox"

    def transport(self, **target: Any) -> Transport:
        if self.name == "memory":
            return _memory_transport(self)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
            if target:
                endpoint = (
                    smtp_target_for(self.sandbox, **target)
                    if self.name == "smtp"
                    else aws_target_for(self.sandbox, **target)
                )
                return make_transport(self.name, endpoint, workers=2)
            return make_transport(self.name, self.sandbox, workers=2)

    def mailbox_ids(self) -> list[str]:
        if self.name == "memory":
            return list(self.accepted_ids)
        return self.sandbox.mailbox.messages()["message_id"].tolist()


def _memory_transport(provider: Provider) -> RecordingTransport:
    """The in-memory transport, answering by the sandbox's own policy and faults."""
    sandbox, ids = provider.sandbox, itertools.count(1)
    lock = threading.Lock()

    def handler(message: Message) -> Reply:
        now = time.time()
        action = sandbox.faults.draw()
        if action is FaultAction.THROTTLE:
            return Reply(Verdict.THROTTLED, now, now, code="Throttled")
        if action is FaultAction.ERROR:
            return Reply(Verdict.TRANSIENT, now, now, code="ServerError")
        if action is FaultAction.DROP:
            return Reply(Verdict.UNKNOWN, now, now, code="Dropped")
        admission = sandbox.policy.admit("memory", message.sender, message.recipients)
        if admission.ok:
            with lock:
                message_id = f"mem-{next(ids)}"
                provider.accepted_ids.append(message_id)
            return Reply(Verdict.ACCEPTED, now, now, message_id=message_id)
        if admission.error_code == "SendingPausedException":
            raise ProviderConfigurationError(admission.error_code, admission.message, "memory")
        if admission.throttled:
            return Reply(Verdict.THROTTLED, now, now, code=admission.error_code)
        return Reply(Verdict.REJECTED, now, now, code=admission.error_code)

    # A batching shape: several messages per call, rendered by the provider.
    return RecordingTransport(handler, max_batch=50, content_mode=ContentMode.TEMPLATE)


TRANSPORT_NAMES = [*names(), "memory"]


@pytest.fixture(params=TRANSPORT_NAMES)
def provider_factory(
    request: pytest.FixtureRequest, make_sandbox: Callable[..., Sandbox]
) -> Callable[..., Provider]:
    def make(**sandbox_options: Any) -> Provider:
        return Provider(request.param, make_sandbox(**sandbox_options))

    return make


def frame(n: int, *, bad_rows: bool = False) -> pd.DataFrame:
    """``n`` recipients; with ``bad_rows`` row 3 has no valid address, row 5 none at all,
    and the last row repeats row 10 (so it is skipped)."""
    emails = [f"user{i}@example.org" for i in range(n)]
    orders = [f"A-{1000 + i}" for i in range(n)]
    if bad_rows:
        emails[3], emails[5] = "not-an-address", ""
        emails[-1], orders[-1] = emails[10], orders[10]
    names = [f"Ana {i}" for i in range(n)]
    if bad_rows:
        names[-1] = names[10]
    return pd.DataFrame({"email": emails, "name": names, "order": orders})


def messages(transport: Transport, n: int) -> list[Message]:
    """``n`` messages composed for this transport's content mode, as the engine would."""
    p = plan(
        frame(n),
        SPEC,
        mode=transport.content_mode,
        max_message_bytes=transport.max_message_bytes,
        transport=transport.name,
    )
    rendered = p.render(p.sendable)
    assert all(isinstance(m, Message) for m in rendered)
    return rendered  # type: ignore[return-value]


def send_through(
    provider: Provider, df: pd.DataFrame, *, fake_clock: bool = False, **engine: Any
) -> pd.DataFrame:
    """``toolkit.send`` through this provider's transport (the engine, retries, pacing), with
    ``engine`` settings. ``fake_clock``: backoff and pacing waits cost no real time (the
    sandboxes run at 1000/s, far above what one test sends in a real second, so pacing on a
    fake clock cannot outrun them); the order in which concurrent requests reach the
    sandbox's seeded faults is then less settled, so a test on it must not depend on it."""
    config = fake_time(**engine) if fake_clock else EngineConfig(**engine)
    if provider.name == "memory":  # a transport object has no quota: give the sandbox's rate
        config = replace(config, rate=provider.sandbox.policy.max_send_rate)
        return send(df, transport=provider.transport(), compose=SPEC, config=config, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
        return send(
            df,
            via=provider.name,
            target=provider.sandbox,
            compose=SPEC,
            config=config,
            progress=False,
        )


def test_one_reply_per_message_in_order_and_each_lands_once(
    provider_factory: Callable[..., Provider],
) -> None:
    provider = provider_factory()
    with provider.transport() as transport:
        batch = messages(transport, 7)
        size = max(1, min(transport.max_batch, 3))
        replies = []
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            answer = transport.send(chunk)
            assert len(answer) == len(chunk)
            replies.extend(answer)
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 7
    ids = [r.message_id for r in replies]
    assert all(ids) and len(set(ids)) == 7
    assert sorted(provider.mailbox_ids()) == sorted(ids)
    if provider.name != "memory":  # each id names the message for its own recipient
        box = provider.sandbox.mailbox.messages().set_index("message_id")
        for i, message_id in enumerate(ids):
            assert list(box.loc[message_id, "recipients"]) == [f"user{i}@example.org"]


def test_throttling_is_an_answer_and_the_engine_retries_and_counts_it(
    provider_factory: Callable[..., Provider],
) -> None:
    provider = provider_factory(throttle_rate=0.3, seed=4)  # seed 4: the first call throttles
    with provider.transport() as transport:  # enough provider calls for several throttles
        rows = min(150, 12 * max(1, transport.max_batch))
    results = send_through(provider, frame(rows), fake_clock=True, max_attempts=10)
    assert results["status"].eq("sent").all(), results["status"].value_counts()
    assert results["attempts"].max() > 1  # some rows needed a retry, and it was counted
    sent_ids = results["message_id"].tolist()
    assert set(sent_ids) <= set(provider.mailbox_ids())
    assert len(set(sent_ids)) == rows


@pytest.mark.parametrize(
    ("fault", "verdict"),
    [("drop_rate", Verdict.UNKNOWN), ("error_rate", Verdict.TRANSIENT)],
    ids=["dropped-connection-is-unknown", "server-error-is-transient"],
)
def test_a_failed_request_is_an_answer_for_each_message_and_nothing_is_stored(
    provider_factory: Callable[..., Provider], fault: str, verdict: Verdict
) -> None:
    provider = provider_factory(**{fault: 1.0}, seed=1)
    with provider.transport() as transport:
        batch = messages(transport, min(transport.max_batch, 3))
        replies = transport.send(batch)  # never a ProviderConfigurationError
    assert [r.verdict for r in replies] == [verdict] * len(batch)
    assert provider.mailbox_ids() == []


def test_a_fault_of_the_whole_account_raises_once(
    provider_factory: Callable[..., Provider],
) -> None:
    provider = provider_factory()
    provider.sandbox.policy.sending_enabled = False
    with provider.transport() as transport:
        batch = messages(transport, min(transport.max_batch, 3))
        with pytest.raises(ProviderConfigurationError) as info:
            transport.send(batch)
    assert "paused" in str(info.value).lower()
    assert provider.mailbox_ids() == []


class _Forbidden(BaseHTTPRequestHandler):
    """What AWS answers to a request signed with a key it does not know."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"message": "The security token included in the request is invalid."})
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", "UnrecognizedClientException")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def forbidding_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forbidden)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_refused_credentials_are_a_configuration_error(
    provider_factory: Callable[..., Provider], forbidding_endpoint: str
) -> None:
    provider = provider_factory()
    if provider.name == "memory":
        pytest.skip("the in-memory transport has no credentials")
    if provider.name == "smtp":
        transport = provider.transport(password="not-the-password")
        with pytest.raises(ProviderConfigurationError) as info:
            transport.open()  # SMTP logs in up front: nothing is attempted row by row
        assert info.value.code == "SMTP535"
        return
    transport = provider.transport(endpoint_url=forbidding_endpoint, secret_access_key="wrong")
    with transport, pytest.raises(ProviderConfigurationError) as info:
        transport.send(messages(transport, 1))
    assert info.value.code == "UnrecognizedClientException"
    assert "wrong" not in str(info.value)


def test_every_row_ends_once_through_the_engine_under_mixed_faults(
    provider_factory: Callable[..., Provider],
) -> None:
    provider = provider_factory(
        throttle_rate=0.1, error_rate=0.05, drop_rate=0.05, partial_failure_rate=0.05, seed=5
    )
    results = send_through(provider, frame(120, bad_rows=True), max_attempts=6)
    assert len(results) == 120 and results["status"].notna().all()
    assert results.loc[[3, 5], "status"].eq("invalid").all()
    assert results.loc[3, "error_code"] == "InvalidAddress"
    assert results.loc[119, ["status", "error_code"]].tolist() == ["skipped", "DuplicateRecipient"]
    others = results.drop(index=[3, 5, 119])
    assert set(others["status"]) <= {"sent", "unknown", "failed"}
    # Throttles and 5xx are retried into `sent`; a dropped call leaves its rows `unknown`
    # (all 100 of a Pinpoint call, when the drop falls on it: how the rows are batched
    # depends on timing), never `sent` and never resent.
    assert others["status"].isin(["sent", "unknown"]).sum() > 80
    assert results.attrs["summary"]["counts"] == results["status"].value_counts().to_dict()
    sent = results.loc[results["status"] == "sent", "message_id"]
    mailbox = provider.mailbox_ids()
    assert set(sent) <= set(mailbox)  # every sent row is there once ...
    assert len(mailbox) == len(set(mailbox))
    unknown = (results["status"] == "unknown").sum()
    assert len(mailbox) - len(sent) <= unknown  # ... and only unknown rows may be extra
