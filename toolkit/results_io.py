"""Results on disk: the one writer and the one reader, for every path that saves results.

``send``'s frame, the CLI's ``--out``, each Dask partition's file and ``report``/``guide``
reading them back all go through here, so a results file has one shape whatever wrote it:

* ``.csv``: ISO 8601 UTC times, the index as ``input_index``, and ``<name>.summary.json``
  beside it (the run's :class:`~toolkit.results.RunSummary`). Cells that a spreadsheet would
  run as a formula (starting ``= + - @``, a tab or a carriage return) are written with a
  leading ``'`` (OWASP's advice against CSV injection) and read back without it.
* ``.parquet``/``.pq``: text columns as strings even when empty (every partition's file has
  the same schema), times and the summary inside the file.
* ``.jsonl``/``.json``: read only (exports of other tools).

Every write is atomic (a temporary file in the same directory, then a rename: a reader never
sees half a file, an existing file is replaced only by a complete one) and cannot be cut by
Ctrl-C or SIGTERM: those signals wait until the file is in place.

Usage::

    path = write_results(frame, "results.csv")
    frame = read_results(path)              # attrs["summary"] restored
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import ConfigurationError
from toolkit.results import TIME_COLUMNS, epoch_seconds, utc_datetimes

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "RESULT_SUFFIXES",
    "WAITS_FOR_WRITES",
    "ResultsNotSavedError",
    "check_results_path",
    "read_results",
    "write_results",
    "write_results_somewhere",
]

RESULT_SUFFIXES = (".csv", ".parquet", ".pq")
"""What :func:`write_results` writes (the reader also takes .json and .jsonl)."""
_STRING_COLUMNS = (
    "row_key", "status", "transport", "recipient", "message_id", "error_code",
    "error_message", "batch_id",
)  # fmt: skip
_ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")  # OWASP: what a spreadsheet would evaluate
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
_BYTES_PER_ROW = 400  # a generous estimate of one CSV results row, for the free-space check


class ResultsNotSavedError(ConfigurationError):
    """No place could take the results file (the one line says why)."""


def check_results_path(path: str | os.PathLike[str], rows: int = 0) -> Path:
    """``path`` as a results file this module can write, checked before anything is sent:
    a known suffix, an existing writable directory, and room for ``rows`` rows."""
    target = Path(path)
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or target.is_dir():
        raise ConfigurationError(f"{text} is a directory: give a file, e.g. {target / 'r.csv'}")
    if target.suffix.lower() not in RESULT_SUFFIXES:
        raise ConfigurationError(
            f"{text}: results are written as .csv or .parquet, not {target.suffix or 'no suffix'}"
            f" (e.g. {target.with_suffix('.csv').name})"
        )
    if not target.parent.is_dir():
        raise ConfigurationError(f"{text}: the directory {target.parent} does not exist")
    try:  # the only sure test of "can I write here": write (a signal waits: no stray probe)
        with (
            _signals_wait(),
            tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", suffix=".check"
            ),
        ):
            pass
    except OSError as exc:
        raise ConfigurationError(f"{text}: cannot write there ({exc.strerror})") from exc
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigurationError(f"{text}: the file exists and is not writable")
    free = _free_bytes(target.parent)
    needed = rows * _BYTES_PER_ROW
    if free is not None and needed > free:
        raise ConfigurationError(
            f"{text}: {target.parent} has {free // 1024:,} KiB free, and the results of "
            f"{rows:,} rows need about {needed // 1024:,} KiB; free some space or choose "
            "another place"
        )
    return target


def _free_bytes(folder: Path) -> int | None:
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return stats.f_bavail * stats.f_frsize


def write_results(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Save a results frame (see the module docstring); returns the path written."""
    target = Path(path)
    suffix = target.suffix.lower()
    summary = frame.attrs.get("summary")
    saved = frame.copy(deep=False)
    saved.attrs = {"summary": _jsonable(summary)} if isinstance(summary, Mapping) else {}
    if saved.index.nlevels > 1:
        saved.index.names = [n or f"input_index_{i}" for i, n in enumerate(saved.index.names)]
    else:
        saved.index.name = saved.index.name or "input_index"
    if suffix in (".parquet", ".pq"):
        typed = saved.astype({c: "string" for c in _STRING_COLUMNS if c in saved.columns})
        typed.attrs = saved.attrs
        with _signals_wait():
            _atomically(target, typed.to_parquet)
        return target
    if suffix != ".csv":
        raise ConfigurationError(f"{target}: results are written as .csv or .parquet")
    safe = _escape_formulas(saved)
    with _signals_wait():
        _atomically(
            target, lambda tmp: safe.to_csv(tmp, date_format=_ISO_UTC, errors="backslashreplace")
        )
        if saved.attrs:
            text = json.dumps(saved.attrs["summary"], indent=2)
            _atomically(_summary_path(target), lambda tmp: Path(tmp).write_text(text, "utf-8"))
    return target


def write_results_somewhere(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the results to ``path``, or, when that fails (a full disk, a lost mount), to the
    temporary directory, then the home directory: results are never lost while any place
    can take them. Returns where they went; ResultsNotSavedError when nowhere could."""
    target = Path(path)
    name = f"toolkit-results-{os.getpid()}{target.suffix or '.csv'}"
    places = [target, Path(tempfile.gettempdir()) / name, Path.home() / name]
    reasons = []
    with _signals_wait():  # a signal waits for the fallback too, not only for one write
        for place in places:
            try:
                return write_results(frame, place)
            except OSError as exc:
                reasons.append(f"{place}: {exc.strerror or exc}")
    raise ResultsNotSavedError("could not save the results anywhere (" + "; ".join(reasons) + ")")


def read_results(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a results file (.csv, .parquet, .json, .jsonl) back into a results frame: times
    as UTC datetimes, and ``attrs["summary"]`` when it was saved with the file."""
    import pandas as pd

    source = Path(path)
    suffix = source.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(source)
        elif suffix in (".json", ".jsonl"):
            frame = pd.read_json(source, lines=suffix == ".jsonl")
        else:
            # every column as text (kept input columns such as "00123" stay as written)
            frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
            frame = _unescape_formulas(frame)
            if "attempts" in frame.columns:
                frame["attempts"] = pd.to_numeric(frame["attempts"], errors="coerce")
            if "input_index" in frame.columns:
                frame = frame.set_index("input_index")
            sidecar = _summary_path(source)
            if sidecar.exists():
                frame.attrs["summary"] = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read results {source}: {exc}") from exc
    for column in TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = utc_datetimes(epoch_seconds(frame[column]), len(frame))
    return frame


def _escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would evaluate, with a leading ``'`` (and one more ``'`` on
    a cell that already starts with quotes before such a character, so reading is exact)."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if not _textual(values):
            continue
        text = values.astype("string")
        risky = text.str.match(_FORMULA.pattern).fillna(False).astype(bool)
        if risky.any():
            if out is frame:
                out = frame.copy()
            out[column] = values.where(~risky, "'" + text)
    return out


def _textual(values: pd.Series) -> bool:
    from pandas.api.types import is_object_dtype, is_string_dtype

    return bool(is_object_dtype(values.dtype) or is_string_dtype(values.dtype))


def _unescape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        text = frame[column]
        if not _textual(text):
            continue
        escaped = text.str.match(_ESCAPED.pattern).fillna(False).astype(bool)
        if escaped.any():
            frame[column] = text.where(~escaped, text.str.slice(1))
    return frame


WAITS_FOR_WRITES = "waits_for_writes"
"""A signal handler whose attribute of this name is true never interrupts a write (it only
notes the signal): :func:`_signals_wait` leaves it in place, so it can answer at once."""


@contextlib.contextmanager
def _signals_wait() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block ends, then reach their usual handler: a
    results file is never half-written, nor its temporary file left behind, by a signal.
    (Python runs signal handlers in the main thread only, so there alone this can hold.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[signal.Signals] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in held}
    if all(getattr(h, WAITS_FOR_WRITES, False) for h in previous.values()):
        yield  # the handlers already let writes finish (and say so at once): keep them
        return
    for number in held:
        signal.signal(number, lambda signum, _frame: arrived.append(signal.Signals(signum)))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for signum in arrived[:1]:  # one delivery: the handler decides what it means
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:  # the default action, now that the file is safe
                os.kill(os.getpid(), signum)


def _atomically(path: Path, write: Callable[[str], object]) -> None:
    """``write(temporary)`` then rename it to ``path``; an existing file keeps its mode."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        umask = os.umask(0)
        os.umask(umask)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask
        os.chmod(temporary, mode)  # mkstemp makes it private; give it a normal file's mode
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _summary_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.summary.json")


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (tuples as lists); anything else as its text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
