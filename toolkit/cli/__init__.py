"""python -m toolkit — send email from a CSV/Parquet file, serve the sandbox, measure, decide.

Commands:
  demo      start the sandbox, send data/'s sample recipients through every transport,
            print a summary per transport (the README's main job)
  send      send a CSV/Parquet file through ses, ses-bulk, pinpoint or smtp
  sandbox   serve the embedded SES/Pinpoint/SMTP sandbox until interrupted
  mailbox   print what a sandbox started with --state received
  report    summarize a results file, write figures
  guide     Pinpoint or SES, API or SMTP? The decision guide, with sources

Exit status: 0 when the command did its job (for send: every row reached a final status,
even if some failed); 2 with a one-line reason on configuration errors.

One module per command (:mod:`.send`, :mod:`.serve`, :mod:`.demo`); ``report`` and ``guide``
are :mod:`toolkit.measure.cli` and :mod:`toolkit.guide.cli`. Each command module has
``add_parser(sub)``, which registers its arguments and its handler.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from toolkit.cli import check, demo, send, serve
from toolkit.errors import ToolkitError

__all__ = ["EXIT_CONFIG", "main"]

EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "report":
        from toolkit.measure.cli import report_cli

        return _guarded(lambda: report_cli(args[1:]))
    if args and args[0] == "guide":
        from toolkit.guide import guide_cli

        return _guarded(lambda: guide_cli(args[1:]))
    parser = _parser()
    ns = parser.parse_args(args)
    if not getattr(ns, "command", None):
        parser.print_help()
        return EXIT_CONFIG
    return _guarded(lambda: ns.handler(ns))


def _guarded(run: Any) -> int:
    """Turn configuration errors into one line on stderr and exit status 2."""
    try:
        return int(run() or 0)
    except ToolkitError as exc:
        print(f"toolkit: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("toolkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit",
        description=__doc__.split("\n\nOne module per command")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.add_parser(sub)
    send.add_parser(sub)
    check.add_parser(sub)
    serve.add_parser(sub)
    sub.add_parser("report", help="summarize a results file (see: report --help)")
    sub.add_parser("guide", help="Pinpoint or SES? (see: guide --help)")
    return parser
