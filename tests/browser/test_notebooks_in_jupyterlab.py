"""What a person sees in JupyterLab: JupyterLab on loopback, headless Chromium, Playwright.

Every notebook is opened as a newcomer opens it (not trusted yet), run with Run All Cells, and
checked: each figure cell (tagged ``figure``) shows an image, no cell shows a red stderr or
error box, every widget draws. Notebook 03's guide is then driven through the states a person
tries (email only; email and SMS; a third-party app; no channel; a quota given; a saved
benchmark run) and each is photographed.

Screenshots go to ``tests/browser/screenshots/`` (or ``$TOOLKIT_SCREENSHOTS``; gitignored; CI
keeps them as artifacts) so people can look at them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("TOOLKIT_SCREENSHOTS", ROOT / "tests" / "browser" / "screenshots"))
TOKEN = "toolkit-browser-test"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
GUIDE = "03_pinpoint_vs_ses_guide.ipynb"
# The figures each notebook shows, at least (a notebook that loses one fails).
FIGURES = {"01": 3, "02": 3, "03": 0, "04": 1, "05": 1}
RUN_TIMEOUT_MS = 240_000  # a whole notebook, on a loaded two-core machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """JupyterLab serving a copy of notebooks/ (and data/ beside it, as in the checkout) on
    127.0.0.1, with its own config and data folders: no notebook is trusted yet."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks", ignore=shutil.ignore_patterns("output"))
    shutil.copytree(ROOT / "data", work / "data")
    settings = work / "settings"
    for name, value in {
        # Render every cell (no virtual scrolling), so outputs far down the page exist.
        "notebook-extension/tracker": '{"windowingMode": "none"}',
        "apputils-extension/notification": '{"fetchNews": "false", "checkForUpdates": false}',
    }.items():
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    port = _free_port()
    log = (work / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={work / 'notebooks'}",
            "--ServerApp.open_browser=False",
            "--allow-root",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(work / "config"),
            "JUPYTER_DATA_DIR": str(work / "jupyter-data"),  # no notebook signatures: untrusted
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(work / "ws"),
        },
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail((work / "lab.log").read_text())
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start within 90 s")
    try:
        yield work / "notebooks", base  # type: ignore[misc]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Any, base: str, name: str, height: int = 1000) -> Any:
    """The notebook alone in a fresh workspace (JupyterLab would reopen earlier tabs)."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.set_default_timeout(60_000)
    workspace = re.sub(r"\W", "-", f"{name}-{time.monotonic_ns()}")
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{name}?reset&token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel", state="visible")
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(state="attached")
    return page


def _close(page: Any, base: str) -> None:
    """Close the page and shut its kernel down (each notebook starts sandboxes and threads)."""
    page.close()
    sessions = json.load(urllib.request.urlopen(f"{base}/api/sessions?token={TOKEN}", timeout=10))
    for session in sessions:
        request = urllib.request.Request(
            f"{base}/api/sessions/{session['id']}?token={TOKEN}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30)


# Every code cell has run, or the run stopped at an error (Run All stops there).
_DONE = """(count) => {
  const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  const running = prompts.some(p => p.innerText.includes('*'));
  const error = document.querySelector(
    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
  const ran = prompts.length === count && prompts.every(p => /\\[\\d+\\]/.test(p.innerText));
  return !running && (ran || error !== null);
}"""


def _run_all(page: Any, code_cells: int) -> None:
    """Run > Run All Cells, until every code cell has an execution count (a kernel still
    connecting drops the request, so try again)."""
    for _ in range(4):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                ".some(p => p.innerText.includes('*'))",
                timeout=20_000,
            )
            break
        except Exception:  # playwright's TimeoutError: the request was dropped
            page.wait_for_timeout(2_000)
    try:
        page.wait_for_function(_DONE, arg=code_cells, timeout=RUN_TIMEOUT_MS)
    finally:
        page.screenshot(path=str(SHOTS / "last_run_all.png"))
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    if stderr.count():
        stderr.first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "run_all_error.png"))
        pytest.fail("a cell wrote to stderr or failed:\n" + stderr.first.inner_text()[:1500])


def _cells(folder: Path, name: str) -> list[dict[str, Any]]:
    return json.loads((folder / name).read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_shows_every_figure(jupyterlab: Any, browser: Any, name: str) -> None:
    folder, base = jupyterlab
    SHOTS.mkdir(parents=True, exist_ok=True)
    cells = _cells(folder, name)
    stem = name.split("_")[0]
    page = _open(browser, base, name)
    if name == GUIDE:
        # Before it runs, the saved notebook shows the guide's answer as HTML, not a widget's
        # raw text; the page is not trusted yet, so this is the sanitized static picture.
        card = page.locator(".toolkit-guide-card").first
        card.wait_for(state="visible")
        assert "SES" in card.inner_text()
        assert "VBox(children" not in page.locator(".jp-Notebook").inner_text()
        # "$105.00 … $44.00" must read as prices, not be typeset as mathematics
        assert page.locator(".toolkit-guide-card mjx-container").count() == 0
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "notebook03_before_running.png"))
    _run_all(page, sum(c["cell_type"] == "code" for c in cells))
    dom_cells = page.locator(".jp-Notebook .jp-Cell")
    assert dom_cells.count() == len(cells)
    figures = 0
    for index, cell in enumerate(cells):
        if "figure" not in cell.get("metadata", {}).get("tags", []):
            continue
        figures += 1
        image = dom_cells.nth(index).locator(".jp-OutputArea-output img")
        image.first.wait_for(state="visible")
        image.first.scroll_into_view_if_needed()
        image.first.screenshot(path=str(SHOTS / f"notebook{stem}_figure{figures}.png"))
    assert figures >= FIGURES[stem], "the notebook lost its figures"
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert stderr.count() == 0, stderr.first.inner_text()[:500]
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".toolkit-guide-card mjx-container").count() == 0
    if name.startswith("01"):
        # the progress bars of the sends, finished: each replaced by its final counts (a
        # widget would read "model not found" once the notebook is saved and reopened)
        bars = page.locator(".jp-OutputArea-output .toolkit-progress-static")
        assert bars.count() >= 4
        assert "1,200 of 1,200 rows" in bars.first.inner_text()
        bars.first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "notebook01_progress_bars.png"))
        _check_preview_and_picker(page)
    _close(page, base)


def _check_preview_and_picker(page: Any) -> None:
    """Notebook 01's preview draws the HTML part in a sandboxed frame, and the picker takes
    a Mailchimp export's ``Email Address`` (not its postal ``Address``)."""
    frame = page.locator("iframe.toolkit-preview-html").first
    frame.scroll_into_view_if_needed()
    assert frame.get_attribute("sandbox") == ""
    heading = page.frame_locator("iframe.toolkit-preview-html").first.locator("h1")
    assert "Thank you" in heading.inner_text()
    page.screenshot(path=str(SHOTS / "notebook01_preview.png"))
    plan = page.locator(".toolkit-plan").first
    plan.scroll_into_view_if_needed()
    assert "rows will be sent via ses" in plan.inner_text()
    assert page.locator(".toolkit-plan mjx-container").count() == 0  # prices, not LaTeX
    page.screenshot(path=str(SHOTS / "notebook01_plan.png"))
    choice = page.locator(".toolkit-csv-choice").first
    choice.scroll_into_view_if_needed()
    assert "picked To column 'Email Address'" in choice.inner_text()
    page.screenshot(path=str(SHOTS / "notebook01_your_own_csv.png"))


def _save(page: Any, path: Path, marker: str) -> None:
    """File > Save Notebook, accepting an "overwrite?" question (autosave may have written
    the file meanwhile), until the file on disk was written after the click, holds
    ``marker`` from this run's outputs, and the tab is no longer dirty. (The copy on disk
    already held the marker from the repository's saved outputs: waiting for the marker alone
    let a slow save lose the race to the reopen, which then showed the old, unsigned file.)"""
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Save Notebook").first.click()
    deadline = time.monotonic() + 60
    while (
        path.stat().st_mtime_ns == before
        or marker not in path.read_text(encoding="utf-8")
        or page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count()
    ):
        dialog = page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.count():
            dialog.first.click()
        if time.monotonic() > deadline:
            page.screenshot(path=str(SHOTS / "save_failed.png"))
            pytest.fail(f"{path.name} was not saved with this run's outputs")
        page.wait_for_timeout(500)


def _shut_down_kernels(base: str) -> None:
    sessions = json.load(urllib.request.urlopen(f"{base}/api/sessions?token={TOKEN}", timeout=10))
    for session in sessions:
        request = urllib.request.Request(
            f"{base}/api/kernels/{session['kernel']['id']}?token={TOKEN}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30)


@pytest.mark.parametrize("name", ["01_send_a_batch.ipynb", GUIDE])
def test_a_run_saved_and_reopened_notebook_shows_its_answers(
    jupyterlab: Any, browser: Any, name: str
) -> None:
    """Run All, save, close, reopen with the kernel shut down: no "Error displaying widget"
    anywhere; the guide's answer, the picker's choice, the final progress and the preview are
    there (the saved outputs, drawn without a kernel)."""
    folder, base = jupyterlab
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = name.split("_")[0]
    page = _open(browser, base, name)
    _run_all(page, sum(c["cell_type"] == "code" for c in _cells(folder, name)))
    marker = "toolkit-static-companion" if name == GUIDE else "toolkit-csv-choice"
    _save(page, folder / name, marker)
    _close(page, base)
    page = _open(browser, base, name)
    _shut_down_kernels(base)
    page.get_by_text("No Kernel").first.wait_for(state="attached")
    page.wait_for_timeout(3_000)  # widget outputs settle ("Loading widget..." -> their end)
    errors = page.get_by_text("Error displaying widget").filter(visible=True)
    if errors.count():
        errors.first.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"notebook{stem}_reopened_error.png"))
    assert errors.count() == 0
    if name == GUIDE:
        card = page.locator(".toolkit-static-companion .toolkit-guide-card").first
        card.scroll_into_view_if_needed()
        assert "SES API v2 for email" in card.inner_text()
        page.screenshot(path=str(SHOTS / "notebook03_reopened_answer.png"))
    else:
        bars = page.locator(".toolkit-progress-static")
        assert bars.count() >= 4
        _check_preview_and_picker(page)
        page.screenshot(path=str(SHOTS / "notebook01_reopened.png"))
    _close(page, base)


def _answer(page: Any) -> Any:
    return page.locator(".toolkit-guide .toolkit-guide-answer").first


def _changed(page: Any, before: str) -> str:
    page.wait_for_function(
        "(before) => { const el = document.querySelector('.toolkit-guide .toolkit-guide-answer');"
        " return el && el.innerText !== before; }",
        arg=before,
    )
    return _answer(page).inner_text()


def _shot(page: Any, name: str) -> None:
    guide = page.locator(".toolkit-guide").first
    guide.scroll_into_view_if_needed()
    guide.screenshot(path=str(SHOTS / f"guide_{name}.png"))


def test_the_guide_answers_clearly_in_five_states(jupyterlab: Any, browser: Any) -> None:
    folder, base = jupyterlab
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, base, GUIDE, height=2400)  # the whole guide fits in one picture
    _run_all(page, sum(c["cell_type"] == "code" for c in _cells(folder, GUIDE)))
    answer = _answer(page)
    answer.wait_for(state="visible")

    def tick(name: str) -> str:
        before = answer.inner_text()
        page.locator(f".toolkit-guide-{name} input[type='checkbox']").first.click()
        return _changed(page, before)

    # 1. Email only (the notebook's starting question): SES API, the Pinpoint badge, no time
    #    from an unknown quota.
    text = answer.inner_text()
    assert "SES API v2 for email" in text
    assert re.search(r"Pinpoint: ended 2026-10-30 → SES / End User Messaging", text)
    assert "No time estimate" in text and not re.search(r"\d+ d \d+ h", text)
    assert page.locator(".toolkit-guide-answer a[href^='https://']").count() >= 5
    _shot(page, "1_email_only")

    # 2. Email and SMS: SMS goes to AWS End User Messaging.
    text = tick("channel-sms")
    assert "SES API v2 for email + AWS End User Messaging for SMS" in text
    _shot(page, "2_email_and_sms")

    # 3. A third-party application: SES SMTP.
    text = tick("third-party")
    assert "SES SMTP for email" in text
    _shot(page, "3_third_party_app")

    # 4. No channel: the answer is cleared, nothing of the last one is left.
    tick("channel-email")
    text = tick("channel-sms")
    assert "Cannot answer" in text
    for stale in ("Why", "Cost per month", "Time to send", "SMTP"):
        assert stale not in text, stale
    _shot(page, "4_no_channel_cleared")

    # 5. Email again (from a Python service: no third-party app), with the account's quota:
    #    a finite time.
    tick("channel-email")
    tick("third-party")
    before = answer.inner_text()
    field = page.locator(".toolkit-guide-max-send-rate input").first
    field.fill("14")
    field.press("Enter")
    text = _changed(page, before)
    assert "SES API v2 for email" in text and "No time estimate" not in text
    assert re.search(r"at your quota \(14/s\): \d+ h \d+ min", text), text
    _shot(page, "5_quota_given_finite_time")

    # 6. A saved benchmark run picked from the list adds the toolkit's measured speed.
    before = answer.inner_text()
    page.locator(".toolkit-guide-benchmarks select").first.select_option(index=1)
    text = _changed(page, before)
    assert "measured speed" in text and "latest.json" in text
    _shot(page, "6_benchmark_run_picked")
    _close(page, base)
