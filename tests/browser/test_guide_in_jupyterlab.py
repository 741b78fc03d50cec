"""The decision guide in a real browser: JupyterLab on loopback, headless Chromium, Playwright.

Runs notebook 03, flips one answer in the guide's widgets and checks that the recommendation on
the page changes. Saves screenshots of the guide and of notebook 02's figures to
``tests/browser/screenshots/`` (or ``$TOOLKIT_SCREENSHOTS``) so people can look at them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("TOOLKIT_SCREENSHOTS", ROOT / "tests" / "browser" / "screenshots"))
TOKEN = "toolkit-browser-test"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab serving a copy of notebooks/ on 127.0.0.1 (the copy keeps autosave off ours)."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    settings = work / "settings"
    for name, value in {
        # Render every cell (no virtual scrolling), so widgets far down the page exist.
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
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
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


def _open(browser: object, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector(".jp-NotebookPanel", state="visible")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    return page


def _run_all(page, until: str) -> None:
    """Run > Run All Cells until ``until`` appears; a kernel still connecting drops the request."""
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(state="attached")
    for _ in range(4):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.locator(until).first.wait_for(state="attached", timeout=30_000)
            return
        except Exception:  # playwright's TimeoutError: try again
            page.wait_for_timeout(2_000)
    page.screenshot(path=str(SHOTS / "run_all_failed.png"))
    pytest.fail(f"{until} never appeared after Run All Cells (see run_all_failed.png)")


def test_changing_an_answer_changes_the_recommendation(jupyterlab: str, browser: object) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, f"{jupyterlab}/lab/tree/03_pinpoint_vs_ses_guide.ipynb?token={TOKEN}")
    _run_all(page, until=".toolkit-guide-recommendation")
    recommendation = page.locator(".toolkit-guide-recommendation").first
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    recommendation.scroll_into_view_if_needed()
    recommendation.wait_for(state="visible")
    before = recommendation.inner_text()
    assert "SES" in before
    page.screenshot(path=str(SHOTS / "guide_before.png"))

    page.locator(".toolkit-guide-third-party input[type='checkbox']").first.click()
    page.wait_for_function(
        "(before) => { const el = document.querySelector('.toolkit-guide-recommendation');"
        " return el && el.innerText !== before; }",
        arg=before,
    )
    after = recommendation.inner_text()
    assert after != before
    assert "SMTP" in after
    page.screenshot(path=str(SHOTS / "guide_after_third_party.png"))
    page.close()


def test_notebook_02_figures_render(jupyterlab: str, browser: object) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _open(browser, f"{jupyterlab}/lab/tree/02_throughput_and_failures.ipynb?token={TOKEN}")
    figures = page.locator(".jp-RenderedImage img")
    figures.first.wait_for(state="visible")
    assert figures.count() >= 2
    for number in range(min(figures.count(), 4)):
        figures.nth(number).scroll_into_view_if_needed()
        figures.nth(number).screenshot(path=str(SHOTS / f"notebook02_figure{number + 1}.png"))
    page.close()
