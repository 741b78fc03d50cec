"""Benchmark results as Markdown tables and PNG figures."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import ScenarioResult


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if digits == 0 and abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.{max(digits, 2)}f}"
    return str(value)


_ROW = "| {name} | {kind} | {rows} | {sent} | {rate} | {p50} | {p95} | {cpu} | {rss} | {notes} |"


def _notes(scenario: dict[str, Any]) -> str:
    if scenario["status"] != "ok":
        return f"**{scenario['status']}**: {scenario.get('reason') or ''}"
    extra = scenario.get("extra") or {}
    parts = []
    for key in (
        "achieved_rate",
        "achieved_ratio",
        "throttled_requests",
        "busiest_1s_server",
        "seconds_to_90pct",
        "throttled_share",
        "loss",
        "stored_not_claimed",
        "rows_per_s",
        "server_cpu_s_per_1k",
    ):
        if extra.get(key) is not None:
            parts.append(f"{key}={_fmt(extra[key], 2)}")
    statuses = extra.get("statuses")
    if statuses and set(statuses) != {"sent"}:
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
    return "; ".join(parts)


def render_markdown(document: dict[str, Any]) -> str:
    """The results document as Markdown: machine, scenario table, goals table."""
    machine = document["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    lines = [
        f"# Benchmark results ({document['mode']})",
        "",
        f"- Date: {document['started_at']} (took {document['duration_s']} s)",
        f"- Command: `{document['command']}`",
        f"- Machine: {machine['cpu_count']} × {machine['cpu_model']}, "
        f"{machine.get('memory_gb')} GB RAM, {machine['platform']}",
        f"- Python {machine['python']}; {versions}",
        f"- Calibration loop (s, lower is faster): before {document['calibration_s']['before']},"
        f" after {document['calibration_s']['after']}; 1-minute load average before"
        f" {document.get('load_average_1m', {}).get('before', '?')}, after"
        f" {document.get('load_average_1m', {}).get('after', '?')} (on {machine['cpu_count']}"
        " CPUs; above that, other work shared the machine)",
        "",
        "## Scenarios",
        "",
        "Rates count accepted messages (recipients for bulk/Pinpoint) per wall second of the"
        " timed part; latency is per request; CPU is the client process (the sandbox and"
        " smtp-sink run in their own processes); RSS is the client's peak.",
        "",
        "| scenario | kind | rows | sent | msg/s | p50 ms | p95 ms | CPU s/1k | peak RSS MB"
        " | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in document["scenarios"]:
        lines.append(
            _ROW.format(
                name=s["name"],
                kind=s["kind"],
                rows=_fmt(s["messages"]) if s["status"] == "ok" else "–",
                sent=_fmt(s["sent"]) if s["status"] == "ok" else "–",
                rate=_fmt(s["msgs_per_s"]),
                p50=_fmt(s["p50_ms"], 2),
                p95=_fmt(s["p95_ms"], 2),
                cpu=_fmt(s["cpu_s_per_1k"], 3),
                rss=_fmt(s["peak_rss_mb"], 1),
                notes=_notes(s).replace("|", "/"),
            )
        )
    lines += ["", "## Goals", "", "| goal | value | target | met |", "|---|---:|---|---|"]
    for goal in document["goals"]:
        met = {True: "yes", False: "**no**", None: "–"}[goal["passed"]]
        note = f" ({goal['note']})" if goal.get("note") else ""
        lines.append(
            f"| {goal['goal']}{note} | {_fmt(goal['value'], 2)} | {goal['target']} | {met} |"
        )
    if document.get("figures"):
        lines += ["", "## Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in document["figures"]]
    lines.append("")
    return "\n".join(lines)


def save_figures(records: Sequence[ScenarioResult], extra: dict[str, Any], out: Path) -> list[str]:
    """rates.png (msg/s per scenario, log scale) plus figures scenarios left in ``extra``."""
    from matplotlib.figure import Figure

    written: list[str] = []
    ok = [r for r in records if r.status == "ok" and r.msgs_per_s]
    if ok:
        fig = Figure(figsize=(9, max(3.0, 0.28 * len(ok) + 1)))
        ax = fig.subplots()
        colors = {"toolkit": "tab:blue", "baseline": "tab:gray", "reference": "tab:green"}
        names = [r.name for r in ok][::-1]
        values = [r.msgs_per_s for r in ok][::-1]
        ax.barh(names, values, color=[colors.get(r.kind, "tab:gray") for r in ok][::-1])
        ax.set_xscale("log")
        ax.set_xlabel("messages per second (log scale)")
        ax.set_title("Throughput per scenario (blue toolkit, grey baseline, green smtp-source)")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(out / "rates.png", dpi=100)
        written.append("rates.png")
    for name, fig in extra.items():
        fig.savefig(out / f"{name}.png", dpi=100)
        written.append(f"{name}.png")
    return written


RESULTS_START = "<!-- results:start (written by python -m benchmarks --full) -->"
RESULTS_END = "<!-- results:end -->"


def update_readme(readme: Path, markdown: str, results_dir: str = "results") -> bool:
    """Put ``markdown`` (latest.md) between the README's results markers; False if absent.

    Headings move down two levels and figure links gain ``results_dir/`` so they resolve
    from the README's folder.
    """
    if not readme.exists():
        return False
    text = readme.read_text(encoding="utf-8")
    if RESULTS_START not in text or RESULTS_END not in text:
        return False
    body = []
    for line in markdown.splitlines():
        if line.startswith("#"):
            line = "##" + line
        line = line.replace("](", f"]({results_dir}/") if line.startswith("![") else line
        body.append(line)
    head, rest = text.split(RESULTS_START, 1)
    _, tail = rest.split(RESULTS_END, 1)
    readme.write_text(
        head + RESULTS_START + "\n" + "\n".join(body).strip() + "\n" + RESULTS_END + tail,
        encoding="utf-8",
    )
    return True
