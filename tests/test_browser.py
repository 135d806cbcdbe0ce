"""The what-if explorer in a real browser: JupyterLab and Voilà in headless Debian Chromium.

Driven by Playwright for Python with ``executable_path="/usr/bin/chromium"`` (never
``playwright install``). Skipped with a plain reason when ``/usr/bin/chromium`` is absent, unless
``CASEKIT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
Servers listen on 127.0.0.1 with a random token; their start-up is retried, assertions are not.
A failing test saves a screenshot to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
WHATIF_TUTORIAL = ROOT / "notebooks" / "tutorials" / "05-what-if-explorer.ipynb"
WHATIF_APP = ROOT / "notebooks" / "apps" / "whatif-explorer.ipynb"
NETWORK_APP = ROOT / "notebooks" / "apps" / "network-explorer.ipynb"
VOILA_CONFIG = ROOT / "jupyter_config" / "voila.py"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SLIDER = ".ck-slider .noUi-handle"  # ipywidgets 8 slider handle inside a casekit panel
STATUS = ".ck-status"  # the panel's status line (casekit.widgets)
FIGURE = ".ck-figure"  # the panel's figure (an ipywidgets Image)


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CASEKIT_REQUIRE_BROWSER") == "1":
            pytest.fail("CASEKIT_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing "
                        "(apt-get install chromium)")
        pytest.skip("browser tests need Debian's chromium at /usr/bin/chromium "
                    "(apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server and wait (it shuts its kernels down); then end its leftovers by pid."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as r:
            if r.status < 500:
                return True
        time.sleep(0.5)
    return False


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        time.sleep(0.5)
    return False


def _start(cmd_for_port, env: dict, ready, log: Path, attempts: int = 3
           ) -> tuple[subprocess.Popen, int]:
    """Start a server, retrying start-up (not assertions) on a fresh port."""
    for _ in range(attempts):
        port = _free_port()
        with log.open("ab") as fh:
            proc = subprocess.Popen(cmd_for_port(port), env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd=env.get("CASEKIT_SERVER_CWD"))
        if ready(port, proc):
            return proc, port
        _stop(proc)
    pytest.fail(f"server did not start after {attempts} attempts; log: {log}\n"
                + log.read_text(errors="replace")[-3000:])


def _base_env(tmp: Path) -> dict:
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(tmp / sub)
    notif = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")
    env["PYTHONWARNINGS"] = "ignore"
    env.pop("MPLBACKEND", None)
    return env


def _browser_env(tmp: Path) -> dict:
    """Chromium finds the bundled CJK font through XDG_DATA_HOME/fonts/ (no system font needed)."""
    fonts = tmp / "xdg" / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for font in (ROOT / "casekit" / "fonts").glob("*.[ot]tf"):
        shutil.copy(font, fonts / font.name)
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    return env


@contextlib.contextmanager
def _page(chromium: Path, tmp: Path, name: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True,
                                    args=CHROMIUM_ARGS, env=_browser_env(tmp))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        try:
            yield page
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            raise
        finally:
            browser.close()


def _state(page) -> tuple[str, str]:
    """What the user sees: the panel's texts and a digest of its images."""
    texts = page.eval_on_selector_all(
        STATUS, "els => els.map(e => e.innerText).join(' | ')")
    srcs = page.eval_on_selector_all(
        f"{FIGURE}, {FIGURE} img", "els => els.map(e => e.getAttribute('src') || '').join('')")
    return texts, hashlib.sha256(srcs.encode()).hexdigest()


def _move_slider_and_wait(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator(SLIDER).first).to_be_visible(timeout=180_000)
    page.wait_for_timeout(1000)  # let the first render settle
    before = _state(page)
    handle = page.locator(SLIDER).first
    value_before = handle.get_attribute("aria-valuenow")
    handle.click()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.mouse.up()
    deadline = time.monotonic() + 90
    after = before
    while time.monotonic() < deadline:
        after = _state(page)
        if after[0] != before[0] and after[1] != before[1]:
            break
        page.wait_for_timeout(500)
    assert handle.get_attribute("aria-valuenow") != value_before, "the slider did not move"
    assert after[0] != before[0], "the status text did not change after moving the slider"
    assert after[1] != before[1], "the output image did not change after moving the slider"


def test_whatif_notebook_in_jupyterlab_reacts_to_a_slider(chromium, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    nb = shutil.copy(WHATIF_TUTORIAL, root / WHATIF_TUTORIAL.name)  # the server autosaves
    env = _base_env(tmp_path)
    token = secrets.token_hex(16)

    def cmd(port):
        return [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={port}", f"--ServerApp.token={token}", "--allow-root",
                f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"]

    def ready(port, proc):
        return _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc, 90)

    proc, port = _start(cmd, env, ready, tmp_path / "lab.log")
    try:
        with _page(chromium, tmp_path, "jupyterlab-whatif") as page:
            from playwright.sync_api import expect

            page.goto(f"http://127.0.0.1:{port}/lab/tree/{Path(nb).name}?token={token}")
            # "Run All" is silently dropped before the kernel exists: wait for the status bar
            expect(page.locator(".jp-StatusBar-TextItem", has_text="Idle").first
                   ).to_be_visible(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            _move_slider_and_wait(page)
    finally:
        _stop(proc)


@contextlib.contextmanager
def _voila(app: Path, tmp_path: Path) -> Iterator[str]:
    """Serve one app with the project's Voilà config; yield its URL (with the token)."""
    root = tmp_path / "root"
    root.mkdir()
    nb = Path(shutil.copy(app, root / app.name))
    env = _base_env(tmp_path)
    shutil.copy(VOILA_CONFIG, Path(env["JUPYTER_CONFIG_DIR"]) / "voila.py")
    env["CASEKIT_SERVER_CWD"] = str(root)
    token = secrets.token_hex(16)

    def cmd(port):
        return [sys.executable, "-m", "voila", str(nb), "--no-browser", "--Voila.ip=127.0.0.1",
                f"--port={port}", f"--Voila.token={token}"]

    def ready(port, proc):
        return _wait_port(port, proc, 90)

    proc, port = _start(cmd, env, ready, tmp_path / "voila.log")
    try:
        yield f"http://127.0.0.1:{port}/?token={token}"
    finally:
        _stop(proc)


def test_whatif_voila_app_shows_status_first_and_reacts_to_a_slider(chromium, tmp_path):
    with _voila(WHATIF_APP, tmp_path) as url, _page(chromium, tmp_path, "voila-whatif") as page:
        from playwright.sync_api import expect

        page.goto(url, timeout=180_000, wait_until="commit")
        # no blank screen: the status cell renders before the panel is computed
        expect(page.locator(".ck-app-status").first).to_be_visible(timeout=120_000)
        _move_slider_and_wait(page)
        expect(page.locator(".ck-app-status").first).to_contain_text("ready")


def test_network_voila_app_redraws_when_the_network_kind_changes(chromium, tmp_path):
    with _voila(NETWORK_APP, tmp_path) as url, _page(chromium, tmp_path, "voila-network") as page:
        from playwright.sync_api import expect

        page.goto(url, timeout=180_000, wait_until="commit")
        expect(page.locator(".ck-app-status").first).to_be_visible(timeout=120_000)
        select = page.locator(".ck-dropdown select").first
        expect(select).to_be_visible(timeout=180_000)
        page.wait_for_timeout(1000)
        before = _state(page)
        select.select_option(label="流转 handover")
        deadline = time.monotonic() + 90
        after = before
        while time.monotonic() < deadline and (after[0] == before[0] or after[1] == before[1]):
            page.wait_for_timeout(500)
            after = _state(page)
        assert after[0] != before[0], "the status text did not change"
        assert after[1] != before[1], "the figure did not change"
        expect(page.locator(".ck-app-status").first).to_contain_text("ready")
