"""python -m toolkit — send email from a CSV/Parquet file, serve the sandbox, measure, decide.

Commands:
  demo      start the sandbox, send data/'s sample recipients through every transport,
            print a summary per transport (the README's main job)
  send      send a CSV/Parquet file through ses, ses-bulk, pinpoint or smtp
  check     before a real send: check the account and the path (credentials, quota, sender)
  sandbox   serve the embedded SES/Pinpoint/SMTP sandbox until interrupted
  mailbox   print what a sandbox started with --state received
  report    summarize a results file, write figures
  guide     Pinpoint or SES, API or SMTP? The decision guide, with sources

Exit status:
  0    the command did its job (send: every row reached a final status, even if some failed)
  1    an unexpected error, a bug: one line that says "please report"; --debug adds the
       traceback
  2    a configuration or usage error (a setting, file, column or credential), one line; send:
       nothing was sent, or the provider refused the account part-way (results written)
  3    check: at least one check failed (each failure has its fix under it)
  4    send: stopped by the reputation guard (bounces or complaints past its threshold); the
       rows not sent are skipped/ReputationPause and a resume with the same --ledger sends them
  130  interrupted (Ctrl-C; 143 for SIGTERM to send), send writes every row's status so far
  141  output piped into a command that stopped reading (e.g. head)

Add --debug anywhere (or set TOOLKIT_DEBUG=1) to see the traceback of an unexpected error.

One module per command (:mod:`.send`, :mod:`.check`, :mod:`.serve`, :mod:`.demo`,
:mod:`.report`, :mod:`.guide`); nothing below ``cli/`` imports it. Each command module has
``add_parser(sub)``, which registers its arguments and its handler (``report`` and ``guide``
parse their own arguments: their ``*_cli(argv)`` is called with the rest of the line).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from toolkit.cli import check, demo, send, serve
from toolkit.cli.parser import OneLineParser, one_line
from toolkit.errors import ToolkitError

__all__ = ["EXIT_BUG", "EXIT_CONFIG", "EXIT_INTERRUPTED", "main", "one_line"]

EXIT_BUG = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
_DEBUG = "--debug"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _DEBUG in args or bool(os.environ.get("TOOLKIT_DEBUG"))
    args = [a for a in args if a != _DEBUG]
    handler = _OneLine(debug)
    logger = logging.getLogger("toolkit")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            if not debug:  # a warning is one line too, not the file and line it came from
                warnings.showwarning = _show_warning
            return _guarded(lambda: _dispatch(args), debug=debug)
    finally:
        logger.removeHandler(handler)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    print(f"toolkit: warning: {one_line(message)}", file=sys.stderr)


class _OneLine(logging.Handler):
    """The library's warnings and errors as ``toolkit: warning: …`` lines on stderr; a
    traceback a log record carries only with --debug."""

    def __init__(self, debug: bool) -> None:
        super().__init__(logging.DEBUG if debug else logging.WARNING)
        self.debug = debug

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"toolkit: {record.levelname.lower()}: {one_line(record.getMessage())}"
            print(line, file=sys.stderr)
            if self.debug and record.exc_info:
                traceback.print_exception(*record.exc_info, file=sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def _dispatch(args: list[str]) -> int:
    if args and args[0] == "report":
        from toolkit.cli.report import report_cli

        return report_cli(args[1:])
    if args and args[0] == "guide":
        from toolkit.cli.guide import guide_cli

        return guide_cli(args[1:])
    parser = _parser()
    ns = parser.parse_args(args)
    if not getattr(ns, "command", None):
        parser.print_help()
        return EXIT_CONFIG
    return int(ns.handler(ns) or 0)


def _guarded(run: Callable[[], int], *, debug: bool = False) -> int:
    """One guard around every command: each way out is an exit status and at most one line.

    A ToolkitError is the user's to fix (2); Ctrl-C is 130; anything else is a bug: one line
    asking for a report, and the traceback only with --debug. ``exc.results_note`` (set by
    ``send`` when it wrote the results before giving up) is added to the line.
    """
    try:
        return int(run() or 0)
    except ToolkitError as exc:
        _say(f"error: {one_line(exc)}", exc)
        return EXIT_CONFIG
    except KeyboardInterrupt as exc:
        _ignore_further_interrupts()  # a second Ctrl-C must not turn 130 into a crash
        _say("interrupted", exc)
        return getattr(exc, "exit_status", EXIT_INTERRUPTED)
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; run again with --debug for the traceback"
        _say(f"internal error: {type(exc).__name__}: {one_line(exc)} — please report it{hint}", exc)
        return EXIT_BUG


def _ignore_further_interrupts() -> None:
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _say(line: str, exc: BaseException) -> None:
    note = getattr(exc, "results_note", None)
    print(f"toolkit: {line}" + (f"; {note}" if note else ""), file=sys.stderr)


_EPILOG = (
    __doc__.split("Exit status:", 1)[1]
    .split("\n\nOne module per command", 1)[0]
    .join(("Exit status:", "\n\nHelp on one command: python -m toolkit COMMAND --help"))
)


def _parser() -> argparse.ArgumentParser:
    # The commands are listed once, by argparse, from each command's own help line.
    parser = OneLineParser(
        prog="python -m toolkit",
        description="Send email from a CSV or Parquet file, serve the sandbox, measure, decide.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        _DEBUG, action="store_true", help="show the traceback of an unexpected error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    demo.add_parser(sub)
    send.add_parser(sub)
    check.add_parser(sub)
    serve.add_parser(sub)
    sub.add_parser("report", help="summarize a results file and draw its figures")
    sub.add_parser("guide", help="SES or Pinpoint, API or SMTP? the decision guide, with sources")
    return parser
