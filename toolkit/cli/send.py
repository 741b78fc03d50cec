"""``python -m toolkit send``: send a CSV or Parquet file and write one result row per input row.

Results are never lost once anything was sent: ``--out`` (and ``--ledger``) are checked to be
writable before the first send; the results file is written atomically (a temporary file,
then a rename) when the send ends, and also when it is interrupted (Ctrl-C, SIGTERM) or stops
on an error part-way — every row's status so far, rows not sent ``skipped``/``Cancelled`` —
and the last line says where. If ``--out`` cannot be written by then, they go to a file in the
temporary directory instead, and the line names it.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from toolkit.cli.common import add_where_arguments, named_flags, read_frame, target_from_args
from toolkit.transports.registry import TRANSPORTS, names

EXIT_REPUTATION_PAUSE = 4
"""The circuit breaker stopped the send (the rest are skipped/ReputationPause, resumable)."""


def _via_help() -> str:
    """The transports, one line each, from the registry."""
    return "; ".join(f"{k.name}: {k.call}" for k in TRANSPORTS.values())


_EXAMPLE = """examples:
  python -m toolkit send data/recipients.csv --via ses --from "Shop <sender@example.com>" \\
      --subject "Your order {{order_id}}" --text @data/templates/order_confirmation.txt \\
      --keep order_id --out results.csv
  python -m toolkit send customers.parquet --via ses-bulk --from sender@example.com \\
      --to-column mail --subject "Hello {{name}}" --text "Hi {{name}}, thanks!" --dry-run \\
      --out preview.csv

--subject, --text and --html take the text itself, with {{column}} placeholders; start the
value with @ to read it from a file instead (--html @mail.html). Without --region, --profile
or --smtp-host the send goes to an embedded local sandbox (nothing leaves this machine).
"""


def add_parser(sub: Any) -> None:
    send = sub.add_parser(
        "send",
        help="send one email per row of a CSV or Parquet file",
        description="Send one email per row of a CSV or Parquet file and write one result "
        "row per input row.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument(
        "file",
        type=Path,
        help="recipients, one row per email: .csv/.tsv (any of , ; TAB |; UTF-8, UTF-16 or "
        "Latin-1), .xlsx (with openpyxl), .parquet, .jsonl",
    )
    send.add_argument(
        "--via", choices=names(), required=True, metavar="TRANSPORT",
        help=f"how to send, e.g. --via ses. {_via_help()}",
    )  # fmt: skip
    send.add_argument(
        "--from", dest="sender", required=True, metavar="ADDRESS",
        help='the From address (a verified identity), e.g. --from "Shop <sender@example.com>"',
    )  # fmt: skip
    content = send.add_argument_group(
        "content ({{column}} placeholders are filled from each row; @FILE reads a file)"
    )
    content.add_argument(
        "--subject", metavar="TEXT", help='subject line, e.g. --subject "Order {{order_id}}"'
    )
    content.add_argument(
        "--text", metavar="TEXT|@FILE",
        help='plain-text body: the text itself (--text "Hi {{first_name}}") or @ and a file '
        "(--text @body.txt)",
    )  # fmt: skip
    content.add_argument(
        "--html", metavar="HTML|@FILE",
        help='HTML body: the HTML itself (--html "<p>Hi {{first_name}}</p>") or @ and a file '
        "(--html @body.html)",
    )  # fmt: skip
    content.add_argument(
        "--template", metavar="NAME",
        help="instead of --subject/--text/--html: a template stored in SES (or Pinpoint), "
        "e.g. --template order-confirmation",
    )  # fmt: skip
    columns = send.add_argument_group("columns")
    columns.add_argument(
        "--to-column", default="email", metavar="COLUMN",
        help="the column with each row's address (default: email), e.g. --to-column mail",
    )  # fmt: skip
    columns.add_argument(
        "--key-column", default=None, metavar="COLUMN",
        help="a column with a stable id per row, used by the ledger to recognise rows "
        "(default: the row number), e.g. --key-column order_id",
    )  # fmt: skip
    columns.add_argument(
        "--keep", default=None, metavar="COLUMNS",
        help="input columns to copy into the results, comma-separated, e.g. --keep "
        "order_id,first_name",
    )  # fmt: skip
    stop = send.add_argument_group("suppression (rows to these addresses end skipped/Suppressed)")
    stop.add_argument(
        "--suppression-file", metavar="PATH",
        help="a CSV or Parquet file of addresses not to send to (e.g. an unsubscribe export; "
        "column email/address, or the only column), e.g. --suppression-file unsubscribed.csv",
    )  # fmt: skip
    stop.add_argument(
        "--suppression-history", metavar="PATH",
        help="the SQLite file of earlier runs' hard bounces and complaints (written by "
        "toolkit.measure.history.record_feedback), e.g. --suppression-history feedback.sqlite3",
    )  # fmt: skip
    stop.add_argument(
        "--no-account-suppression", action="store_true",
        help="do not read the account's SES suppression list before sending",
    )  # fmt: skip
    guard = send.add_argument_group(
        "reputation guard (stops past SES-safe bounce/complaint rates; the rest resumable)"
    )
    guard.add_argument(
        "--events-queue", metavar="URL",
        help="an SQS queue fed by the configuration set's event destination (SNS or "
        "EventBridge): the run's bounces and complaints, followed while sending",
    )  # fmt: skip
    guard.add_argument(
        "--no-breaker", action="store_true",
        help="do not stop on bounces or complaints (on by default where events can be followed)",
    )  # fmt: skip
    add_where_arguments(send)
    engine = send.add_argument_group("sending")
    engine.add_argument(
        "--rate", type=float, metavar="PER_SECOND",
        help="recipients per second, e.g. --rate 14 (default: the account's quota when the "
        "API reports it)",
    )  # fmt: skip
    engine.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="requests in flight at once (default: sized from the rate and the measured "
        "latency, up to 256)",
    )  # fmt: skip
    engine.add_argument(
        "--ledger", metavar="PATH",
        help="SQLite journal of every row; makes the run resumable, e.g. --ledger run.sqlite",
    )  # fmt: skip
    engine.add_argument(
        "--resume", action="store_true",
        help="continue the run in an existing --ledger (rows already final are not resent)",
    )  # fmt: skip
    engine.add_argument(
        "--retry-unknown", action="store_true",
        help="also resend rows whose fate is unknown (they may arrive twice)",
    )  # fmt: skip
    engine.add_argument(
        "--resend-changed", action="store_true",
        help="on --resume, send rows whose text changed since their recipient got the earlier "
        "version (otherwise skipped/ContentChanged)",
    )  # fmt: skip
    engine.add_argument(
        "--dry-run", action="store_true", help="check and render every row; send nothing"
    )
    engine.add_argument(
        "--preview", type=int, metavar="N", default=0,
        help="print N messages in full as they will be sent (the first row, the longest "
        "values, an empty cell, a refused row) and the plan, e.g. --dry-run --preview 3",
    )  # fmt: skip
    engine.add_argument(
        "--limit", type=int, metavar="N", help="send at most N rows, e.g. --limit 10"
    )
    engine.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    engine.add_argument(
        "--timeout", type=float, metavar="SECONDS",
        help="seconds to wait for each answer (SMTP reply or AWS API response; default 30); "
        "after 3 SMTP timeouts in a row the run stops and unsent rows stay pending",
    )  # fmt: skip
    send.add_argument(
        "--out", required=True, metavar="PATH",
        help="where to write the results, one row per input row: .csv (with "
        "NAME.summary.json beside it) or .parquet, e.g. --out results.csv",
    )  # fmt: skip
    send.set_defaults(handler=run)


def _read_text(value: str | None, flag: str = "--text") -> str | None:
    """The text of --subject/--text/--html: the value itself, or a file's content for @PATH.

    A value that is the name of an existing file (without the @) is refused rather than sent
    as the body: that is almost always a forgotten @.
    """
    from toolkit.errors import ConfigurationError

    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{flag}: cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigurationError(
                f"{flag}: {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                f"offset {exc.start}); save it as UTF-8"
            ) from exc
    if "\n" not in value and len(value) < 4096 and Path(value).is_file():
        raise ConfigurationError(
            f"{flag} {value} names a file: write {flag} @{value} to send its content"
        )
    return value


def _engine_config(ns: argparse.Namespace) -> Any:
    """--rate, --workers, --limit as an EngineConfig (each checked, the flag named)."""
    from toolkit.delivery.config import EngineConfig

    settings: dict[str, Any] = {"rate": ns.rate, "limit": ns.limit,
                                "retry_unknown": ns.retry_unknown,
                                "resend_changed": ns.resend_changed}  # fmt: skip
    if ns.workers is not None:  # otherwise the engine's own default
        settings["workers"] = ns.workers
    with named_flags():
        return EngineConfig(**settings)


def _check_paths(ns: argparse.Namespace, rows: int = 0) -> tuple[Path, Path | None]:
    """--out and --ledger, checked before anything is sent (ConfigurationError): a results
    file this toolkit writes, in a writable place with room for ``rows`` rows."""
    from toolkit.delivery.ledger import check_ledger_path
    from toolkit.errors import ConfigurationError
    from toolkit.results_io import check_results_path

    try:
        out = check_results_path(ns.out, rows)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--out {exc}") from exc
    if out.exists() and out.resolve() == ns.file.resolve():
        raise ConfigurationError(f"--out {ns.out} is the input file; give another name")
    if ns.resume and not ns.ledger:
        raise ConfigurationError("--resume needs --ledger PATH")
    if not ns.ledger:
        return out, None
    try:
        ledger = check_ledger_path(ns.ledger)
    except ConfigurationError as exc:  # "ledger X is a directory…" -> "--ledger X is …"
        raise ConfigurationError(f"--{exc}") from exc
    if ledger.exists() and not ns.resume:
        raise ConfigurationError(f"--ledger {ns.ledger} exists: pass --resume to continue it")
    if ledger.resolve() == out.resolve():
        raise ConfigurationError("--ledger and --out name the same file")
    return out, ledger


def _check_to_column(frame: pd.DataFrame, column: str) -> None:
    """A --to-column the file lacks: one line with the file's columns and the likeliest."""
    from toolkit.compose.columns import address_columns
    from toolkit.errors import ConfigurationError

    names = [str(c) for c in frame.columns]
    if column in names:
        return
    found = address_columns(frame)
    hint = (
        f"; the likeliest is {found[0][0]!r} ({found[0][1]:.0%} addresses): --to-column "
        f"{shlex.quote(found[0][0])}"
        if found
        else "; none of them holds email addresses"
    )
    shown = ", ".join(repr(n) for n in names[:12]) + (" …" if len(names) > 12 else "")
    raise ConfigurationError(f"--to-column {column}: the file has no such column (it has "
                             f"{shown}){hint}")  # fmt: skip


def _counts_line(frame: pd.DataFrame) -> str:
    counts = frame["status"].value_counts(dropna=False)
    return " ".join(f"{status}={n}" for status, n in counts.items())


@dataclass
class _Stopping:
    """The SIGINT/SIGTERM handler of a send: the first signal stops the send once, like a
    clean cancel (KeyboardInterrupt); once the results are being written (``writing``), or
    after that first signal, a signal never interrupts anything: it is noted, and the run
    ends 130/143 once the results are in place. Each signal says at once what happens."""

    out: Path
    drain_seconds: float
    signum: int = 0
    writing: bool = False
    note: str = ""  # where the results went, once they are written

    @property
    def waits_for_writes(self) -> bool:  # read by toolkit.results_io (WAITS_FOR_WRITES)
        return self.writing or bool(self.signum)

    def __call__(self, signum: int, frame: Any) -> None:
        if self.signum:
            print(f"toolkit: still stopping; every row's status is being written to {self.out}",
                  file=sys.stderr)  # fmt: skip
            return
        self.signum = signum
        if self.writing:
            print(f"toolkit: stopping: nothing more is sent; every row's status is being "
                  f"written to {self.out}", file=sys.stderr)  # fmt: skip
            return
        print(f"toolkit: stopping: requests in flight finish (at most {self.drain_seconds:g} "
              f"s), then every row's status is written to {self.out}", file=sys.stderr)  # fmt: skip
        raise self.interrupt()

    def interrupt(self) -> KeyboardInterrupt:
        """What ends the run after a signal: exit 128 + its number, the note says where."""
        error = KeyboardInterrupt()
        error.exit_status = 128 + (self.signum or signal.SIGINT)  # type: ignore[attr-defined]
        if self.note:
            error.results_note = self.note  # type: ignore[attr-defined]
        return error


@contextlib.contextmanager
def _stop_once(out: Path, drain_seconds: float) -> Iterator[_Stopping]:
    """SIGINT and SIGTERM handled by a :class:`_Stopping` while the block runs."""
    stopping = _Stopping(out, drain_seconds)
    held = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {number: signal.signal(number, stopping) for number in held}
    except ValueError:  # not the main thread (tests calling main() from a thread)
        yield stopping
        return
    try:
        yield stopping
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _results_of(exc: BaseException | None) -> pd.DataFrame | None:
    """The results an error carries (``.results``), or the error it interrupted (a signal
    landing while the first was handled)."""
    while exc is not None:
        found = getattr(exc, "results", None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        exc = exc.__context__
    return None


def run(ns: argparse.Namespace) -> int:
    from toolkit.errors import ConfigurationError

    _check_paths(ns)  # before reading a large file: a wrong --out is one line at once
    if ns.template and (ns.subject or ns.text or ns.html):
        raise ConfigurationError("give either --template or --subject/--text/--html, not both")
    if not ns.template and not ns.subject:
        raise ConfigurationError("give --subject (with --text/--html) or --template")
    config = _engine_config(ns)
    stop: _Stopping | None = None
    try:
        with _stop_once(Path(ns.out), config.drain_timeout) as stop:
            return _send(ns, config, stop)
    except KeyboardInterrupt as exc:  # a signal as the handlers were put back
        if stop is not None and stop.note and not getattr(exc, "results_note", None):
            exc.results_note = stop.note  # type: ignore[attr-defined]
        raise


def _send(ns: argparse.Namespace, config: Any, stop: _Stopping) -> int:
    """Read, plan, send, and write every row's status, whatever signal comes when."""
    from toolkit.cli.plan import print_plan
    from toolkit.job import Job
    from toolkit.options import SendKeywords, SendOptions
    from toolkit.results_io import write_results_somewhere

    text, html = _read_text(ns.text, "--text"), _read_text(ns.html, "--html")
    target = target_from_args(ns)
    frame = read_frame(ns.file)
    _check_to_column(frame, ns.to_column)
    out, ledger = _check_paths(ns, rows=len(frame))  # and room for every row's result
    keywords = SendKeywords(
        target=target, config=config, sender=ns.sender, to=ns.to_column,
        key=ns.key_column, subject=_read_text(ns.subject, "--subject"), text=text,
        html=html, template=ns.template, ledger=ledger, dry_run=ns.dry_run,
        keep=[c.strip() for c in ns.keep.split(",") if c.strip()] if ns.keep else None,
        progress=not ns.no_progress, suppression_file=ns.suppression_file,
        suppression_history=ns.suppression_history,
        account_suppression=not ns.no_account_suppression,
        breaker=False if ns.no_breaker else None, events_queue=ns.events_queue,
    )  # fmt: skip
    options = SendOptions.from_keywords(ns.via, keywords)
    if ns.dry_run or ns.preview:
        print_plan(frame, options, rows=ns.preview)
    job = Job(options, frame)
    try:
        try:
            results = job.run()
        finally:
            stop.writing = True  # from here on a signal waits for the results
    except BaseException as exc:
        partial = _results_of(exc)
        if partial is None and (stop.signum or isinstance(exc, KeyboardInterrupt)):
            partial = job.snapshot_frame(stopped=True)  # stopped before the engine had them
        if partial is not None:  # never lose what happened to any row
            written = write_results_somewhere(partial, out)
            stop.note = f"every row's status so far ({_counts_line(partial)}) -> {written}"
            with contextlib.suppress(AttributeError):
                exc.results_note = stop.note  # type: ignore[attr-defined]
        if stop.signum and not isinstance(exc, KeyboardInterrupt):
            raise stop.interrupt() from exc  # a signal came while an error was handled
        raise
    written = write_results_somewhere(results, out)
    stop.note = f"every row's status ({_counts_line(results)}) -> {written}"
    if stop.signum:  # the run had ended; the signal still ends it as interrupted
        raise stop.interrupt()
    print(_counts_line(results), f"-> {written}")
    if written != out:
        print(f"toolkit: could not write {out}; results are in {written}", file=sys.stderr)
    from toolkit.delivery.engine import REPUTATION_PAUSE_CODE

    code = 0
    paused = results["error_code"] == REPUTATION_PAUSE_CODE
    if paused.any():
        reason = results.loc[paused, "error_message"].iloc[0]
        print(f"toolkit: stopped to protect the account's reputation: {reason}; {paused.sum()} "
              "rows were not sent. Check the bounces (python -m toolkit report), clean the "
              "list, then resume with the same --ledger", file=sys.stderr)  # fmt: skip
        code = EXIT_REPUTATION_PAUSE
    if stop.signum:  # it came as the lines above were printed: the last line says where
        raise stop.interrupt()
    return code
