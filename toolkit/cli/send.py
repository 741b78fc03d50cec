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
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from toolkit.transports.registry import TRANSPORTS, names


def _via_help() -> str:
    """The transports, one line each, from the registry."""
    return "; ".join(f"{k.name}: {k.call}" for k in TRANSPORTS.values())


def add_parser(sub: Any) -> None:
    send = sub.add_parser("send", help="send a CSV or Parquet file")
    send.add_argument("file", type=Path)
    send.add_argument("--via", choices=names(), required=True, help=_via_help())
    send.add_argument("--from", dest="sender", required=True, help="From address")
    content = send.add_argument_group("content")
    content.add_argument("--subject", help="subject template, {{column}} placeholders")
    content.add_argument("--text", type=Path, help="text body template file")
    content.add_argument("--html", type=Path, help="HTML body template file")
    content.add_argument("--template", help="name of a stored SES/Pinpoint template")
    send.add_argument("--to-column", default="email")
    send.add_argument("--key-column", default=None, help="stable row key (default: row index)")
    where = send.add_argument_group("where to send")
    where.add_argument("--sandbox", action="store_true", help="start an embedded sandbox (default)")
    where.add_argument("--region")
    where.add_argument("--profile")
    where.add_argument("--endpoint-url")
    where.add_argument("--pinpoint-app-id")
    where.add_argument("--smtp-host")
    where.add_argument("--smtp-port", type=int, default=587)
    where.add_argument("--smtp-user")
    where.add_argument("--smtp-password-env", metavar="VAR", help="env var holding the password")
    where.add_argument("--smtp-tls", choices=("starttls", "implicit", "none"), default="starttls")
    where.add_argument("--smtp-no-verify", action="store_true", help="skip certificate checks")
    engine = send.add_argument_group("engine")
    engine.add_argument("--rate", type=float, help="recipients per second (default: quota)")
    engine.add_argument("--workers", type=int, default=8)
    engine.add_argument("--ledger", help="SQLite journal; makes the run resumable")
    engine.add_argument("--resume", action="store_true", help="continue an existing ledger")
    engine.add_argument("--retry-unknown", action="store_true", help="resend 'unknown' rows")
    engine.add_argument("--dry-run", action="store_true", help="check and render; send nothing")
    engine.add_argument("--limit", type=int, help="send at most N rows")
    engine.add_argument("--no-progress", action="store_true")
    send.add_argument("--out", required=True, help="results CSV")
    send.set_defaults(handler=run)


def _read_frame(path: Path) -> Any:
    import pandas as pd

    from toolkit.errors import ConfigurationError

    if not path.exists():
        raise ConfigurationError(f"cannot read {path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc


def _read_text(path: Path | None, flag: str = "--text") -> str | None:
    from toolkit.errors import ConfigurationError

    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{flag}: cannot read template {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{flag}: {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from exc


# Which flag sets a setting, for messages that name the setting (``region 'x' is not ...``).
_FLAGS = {
    "endpoint_url": "--endpoint-url", "region": "--region", "profile": "--profile",
    "pinpoint_app_id": "--pinpoint-app-id", "host": "--smtp-host", "port": "--smtp-port",
    "rate": "--rate", "workers": "--workers", "limit": "--limit",
}  # fmt: skip


@contextlib.contextmanager
def _named_flags() -> Iterator[None]:
    """Re-raise a ConfigurationError about a setting with the flag that sets it in front."""
    from toolkit.errors import ConfigurationError

    try:
        yield
    except ConfigurationError as exc:
        flag = _FLAGS.get(str(exc).split(" ", 1)[0])
        if flag is None:
            raise
        raise ConfigurationError(f"{flag}: {exc}") from exc


def _target_from_args(ns: argparse.Namespace) -> Any:
    """None (embedded sandbox), an AwsTarget or an SmtpTarget, from the flags."""
    with _named_flags():
        return _target(ns)


def _target(ns: argparse.Namespace) -> Any:
    from toolkit.errors import ConfigurationError
    from toolkit.targets import AwsTarget, SmtpTarget

    if ns.via == "smtp" and ns.smtp_host:
        password = None
        if ns.smtp_password_env:
            password = os.environ.get(ns.smtp_password_env)
            if password is None:
                raise ConfigurationError(f"environment variable {ns.smtp_password_env} is not set")
        return SmtpTarget(
            host=ns.smtp_host,
            port=ns.smtp_port,
            username=ns.smtp_user,
            password=password,
            tls=ns.smtp_tls,
            verify=not ns.smtp_no_verify,
        )
    if ns.via != "smtp" and (ns.region or ns.profile or ns.endpoint_url):
        return AwsTarget(
            region=ns.region,
            profile=ns.profile,
            endpoint_url=ns.endpoint_url,
            pinpoint_app_id=ns.pinpoint_app_id,
        )
    if ns.via == "smtp" and (ns.region or ns.profile or ns.endpoint_url):
        raise ConfigurationError(
            "--via smtp needs --smtp-host (and --smtp-user/--smtp-password-env)"
        )
    return None


def _engine_config(ns: argparse.Namespace) -> Any:
    """--rate, --workers, --limit as an EngineConfig (each checked, the flag named)."""
    from toolkit.delivery.config import EngineConfig

    with _named_flags():
        return EngineConfig(rate=ns.rate, workers=ns.workers, limit=ns.limit,
                            retry_unknown=ns.retry_unknown)  # fmt: skip


def _check_paths(ns: argparse.Namespace) -> tuple[Path, Path | None]:
    """--out and --ledger, checked before anything is read or sent (ConfigurationError)."""
    from toolkit.delivery.ledger import check_ledger_path
    from toolkit.errors import ConfigurationError

    out_text = ns.out
    out = Path(out_text)
    if out_text.endswith(("/", os.sep)) or out.is_dir():
        raise ConfigurationError(
            f"--out {out_text} is a directory: give a file, e.g. {out / 'results.csv'}"
        )
    if not out.parent.is_dir():
        raise ConfigurationError(
            f"--out {out_text}: the directory {out.parent} does not exist; create it first"
        )
    try:  # the only sure test of "can I write here": write
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".check"):
            pass
    except OSError as exc:
        raise ConfigurationError(f"--out {out_text}: cannot write there ({exc.strerror})") from exc
    if out.exists() and not os.access(out, os.W_OK):
        raise ConfigurationError(f"--out {out_text}: the file exists and is not writable")
    if out.exists() and out.resolve() == ns.file.resolve():
        raise ConfigurationError(f"--out {out_text} is the input file; give another name")
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


def write_results(frame: pd.DataFrame, out: Path) -> Path:
    """Write the results CSV atomically (a temporary file in the same directory, then a
    rename): a reader never sees half a file, and an old file is replaced only by a complete
    one. If ``out`` cannot be written any more, the results go to the temporary directory
    instead. Returns the path written."""
    try:
        _write_atomically(frame, out)
        return out
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"toolkit-results-{os.getpid()}.csv"
        _write_atomically(frame, fallback)
        return fallback


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    index = frame.index
    label: Any = "input_index"
    if index.nlevels > 1:
        label = [f"input_index_{i}" for i in range(index.nlevels)]
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        umask = os.umask(0)
        os.umask(umask)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
        os.chmod(temporary, mode)  # mkstemp makes it private; give it a normal file's mode
        frame.to_csv(temporary, index_label=label, errors="backslashreplace")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _counts_line(frame: pd.DataFrame) -> str:
    counts = frame["status"].value_counts(dropna=False)
    return " ".join(f"{status}={n}" for status, n in counts.items())


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job) stops the send like Ctrl-C: results kept."""

    def interrupt(signum: int, frame: Any) -> None:
        error = KeyboardInterrupt()
        error.exit_status = 128 + signum  # type: ignore[attr-defined]
        raise error

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (tests calling main() from a thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(ns: argparse.Namespace) -> int:
    from toolkit.api import send
    from toolkit.errors import ConfigurationError

    out, ledger = _check_paths(ns)
    if ns.template and (ns.subject or ns.text or ns.html):
        raise ConfigurationError("give either --template or --subject/--text/--html, not both")
    if not ns.template and not ns.subject:
        raise ConfigurationError("give --subject (with --text/--html) or --template")
    config = _engine_config(ns)
    text, html = _read_text(ns.text, "--text"), _read_text(ns.html, "--html")
    target = _target_from_args(ns)
    frame = _read_frame(ns.file)
    try:
        with _sigterm_as_interrupt():
            results = send(
                frame,
                via=ns.via,
                target=target,
                config=config,
                sender=ns.sender,
                to=ns.to_column,
                key=ns.key_column,
                subject=ns.subject,
                text=text,
                html=html,
                template=ns.template,
                ledger=ledger,
                dry_run=ns.dry_run,
                progress=not ns.no_progress,
            )
    except BaseException as exc:
        partial = getattr(exc, "results", None)
        if partial is not None:  # something was sent: never lose what happened to it
            written = write_results(partial, out)
            with contextlib.suppress(AttributeError):
                exc.results_note = (  # type: ignore[attr-defined]
                    f"every row's status so far ({_counts_line(partial)}) -> {written}"
                )
        raise
    written = write_results(results, out)
    print(_counts_line(results), f"-> {written}")
    if written != out:
        print(f"toolkit: could not write {out}; results are in {written}", file=sys.stderr)
    return 0
