"""The README's main job: send the sample recipients through every transport to the sandbox.

Starts an embedded :class:`toolkit.sandbox.Sandbox`, sends ``data/recipients.csv`` with the
order-confirmation templates through ``ses``, ``ses-bulk``, ``pinpoint`` and ``smtp``, and
prints one summary line per transport: how many rows ended in each status, the throughput,
the median request latency, and how many messages the sandbox's mailbox really holds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from toolkit.errors import ConfigurationError
from toolkit.results import Status, epoch_seconds

SENDER = "Example Shop <sender@example.com>"
PINPOINT_NOTE = (
    "pinpoint: legacy emulation. Pinpoint email ended at AWS on 2026-10-30; the sandbox still\n"
    "answers it as before (each Pinpoint message in its mailbox says so) so the old path can\n"
    "be compared; `python -m toolkit sandbox --pinpoint-ended` answers as AWS does now (403)."
)
_TEMPLATE_STEM = "order_confirmation"


def find_data_dir(explicit: Path | None = None) -> Path:
    """The data/ folder: the one given, else beside the checkout, else in the working directory."""
    candidates = [explicit] if explicit else []
    candidates += [Path(__file__).resolve().parents[1] / "data", Path.cwd() / "data"]
    for candidate in candidates:
        if candidate is not None and (candidate / "recipients.csv").exists():
            return candidate
    raise ConfigurationError("cannot find data/recipients.csv; pass --data DIR")


def load_templates(data_dir: Path) -> dict[str, str]:
    """Subject, text and HTML templates of the sample order confirmation."""
    folder = data_dir / "templates"
    return {
        "subject": (folder / f"{_TEMPLATE_STEM}.subject.txt").read_text(encoding="utf-8").strip(),
        "text": (folder / f"{_TEMPLATE_STEM}.txt").read_text(encoding="utf-8"),
        "html": (folder / f"{_TEMPLATE_STEM}.html").read_text(encoding="utf-8"),
    }


def load_recipients(data_dir: Path, rows: int | None = None) -> pd.DataFrame:
    """The sample recipients, every column as text (as a user's CSV would arrive)."""
    frame = pd.read_csv(
        data_dir / "recipients.csv", dtype=str, keep_default_na=False, na_values=[""]
    )
    return frame.head(rows) if rows else frame


def summarize_run(via: str, results: pd.DataFrame, elapsed: float, in_mailbox: int) -> dict:
    """One line of the demo's table."""
    counts = results["status"].value_counts()
    sent = int(counts.get(Status.SENT.value, 0))
    latency = pd.Series(
        epoch_seconds(results["finished_at"]) - epoch_seconds(results["started_at"])
    ).dropna()
    row: dict[str, object] = {"transport": via, "rows": len(results)}
    row.update({status.value: int(counts.get(status.value, 0)) for status in Status})
    row["msgs/s"] = round(sent / elapsed, 1) if elapsed > 0 else 0.0
    row["p50 ms"] = round(float(latency.median()) * 1000, 2) if len(latency) else None
    row["in mailbox"] = in_mailbox
    return row


def run_demo(
    data: Path | None = None,
    rows: int | None = None,
    vias: Sequence[str] | None = None,
    rate: float = 1000.0,
) -> int:
    """Send the sample through each transport and print the table; returns an exit status."""
    from toolkit.api import send
    from toolkit.sandbox import Sandbox
    from toolkit.transports.registry import names, through_pinpoint

    vias = tuple(vias) if vias is not None else names()
    data_dir = find_data_dir(data)
    frame = load_recipients(data_dir, rows)
    templates = load_templates(data_dir)
    lines = []
    with Sandbox(rate=rate) as sandbox:
        print(f"sandbox: API {sandbox.endpoint_url}, SMTP {sandbox.smtp_host}:{sandbox.smtp_port}")
        source = data_dir / "recipients.csv"
        print(f"sending {len(frame)} rows from {source} through {', '.join(vias)}")
        for via in vias:
            before = sandbox.mailbox.count()
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results = send(
                    frame,
                    via=via,
                    target=sandbox,
                    sender=SENDER,
                    progress=False,
                    subject=templates["subject"],
                    text=templates["text"],
                    html=templates["html"],
                )
            elapsed = time.perf_counter() - started
            for warning in {str(w.message) for w in caught}:
                print(f"note ({via}): {warning}")
            lines.append(summarize_run(via, results, elapsed, sandbox.mailbox.count() - before))
    table = pd.DataFrame(lines).set_index("transport")
    print()
    print(table.to_string())
    print()
    print("Every row has exactly one status; 'in mailbox' counts what the sandbox really accepted.")
    print("invalid: the sample's deliberately bad rows, refused before sending, with a reason;")
    print("skipped: a repeated recipient. Bounces and complaints of the simulator addresses arrive")
    print("later, as events: see notebooks/01_send_a_batch.ipynb.")
    if any(through_pinpoint(via) for via in vias):
        print(PINPOINT_NOTE)
    return 0
