"""Every user path in a real browser: JupyterLab, Voilà and the static notebook HTML.

Paths: training notebooks 01 and 02 and the what-if tutorial in JupyterLab; the what-if and
network apps in Voilà (each also checks that its kernel is freed: closing the tab shuts it down,
a page that dies without closing is culled); the demo's static notebook HTML with the network
off. One JupyterLab and one Voilà server per module, reused by the tests, and one browser.

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
import re
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
TRAINING_01 = ROOT / "notebooks" / "training" / "01-fengqiao-chaoyang-nanpoyuan.ipynb"
TRAINING_02 = ROOT / "notebooks" / "training" / "02-exercises-and-whatif-game.ipynb"
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
CULL_IDLE_S = 20  # the Voilà server of these tests culls idle unconnected kernels this fast
CULL_INTERVAL_S = 5


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
    # kernels run in a temporary folder: they import casekit from this checkout, not by accident
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
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


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    """One headless Chromium for the module (fonts: the bundled CJK font via XDG_DATA_HOME)."""
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("chromium")
    p = sync_playwright().start()
    try:
        b = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS,
                              env=_browser_env(tmp))
        try:
            yield b
        finally:
            b.close()
    finally:
        p.stop()


@contextlib.contextmanager
def _page(browser, name: str, *, offline: bool = False) -> Iterator:
    """A fresh page; a failing test leaves a screenshot in ``test-artifacts/NAME.png``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=offline)
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        yield page
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        raise
    finally:
        with contextlib.suppress(Exception):
            context.close()


def _state(page) -> tuple[str, str]:
    """What the user sees: the panel's texts and a digest of its images."""
    texts = page.eval_on_selector_all(
        STATUS, "els => els.map(e => e.innerText).join(' | ')")
    srcs = page.eval_on_selector_all(
        f"{FIGURE}, {FIGURE} img", "els => els.map(e => e.getAttribute('src') || '').join('')")
    return texts, hashlib.sha256(srcs.encode()).hexdigest()


def _wait_changed(page, before: tuple[str, str], seconds: float = 90) -> tuple[str, str]:
    deadline = time.monotonic() + seconds
    after = before
    while time.monotonic() < deadline:
        after = _state(page)
        if after[0] != before[0] and after[1] != before[1]:
            break
        page.wait_for_timeout(500)
    return after


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
    after = _wait_changed(page, before)
    assert handle.get_attribute("aria-valuenow") != value_before, "the slider did not move"
    assert after[0] != before[0], "the status text did not change after moving the slider"
    assert after[1] != before[1], "the output image did not change after moving the slider"


# ---------------------------------------------------------------------------------------------
# JupyterLab: one server for the module; each test opens its own copy of a notebook
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A JupyterLab server over copies of the notebooks; yields (base URL, token)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    for nb in (WHATIF_TUTORIAL, TRAINING_01, TRAINING_02):
        shutil.copy(nb, root / nb.name)  # the server autosaves: never the checkout's file
    env = _base_env(tmp)
    token = secrets.token_hex(16)

    def cmd(port):
        return [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={port}", f"--ServerApp.token={token}", "--allow-root",
                f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"]

    def ready(port, proc):
        return _wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc, 90)

    proc, port = _start(cmd, env, ready, tmp / "lab.log")
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        _stop(proc)


def _shutdown_kernels(lab: tuple[str, str]) -> None:
    """Shut down the server's kernels (the next test starts its own; memory stays low)."""
    base, token = lab
    with contextlib.suppress(OSError), urllib.request.urlopen(
            f"{base}/api/kernels?token={token}", timeout=10) as r:
        for kernel in json.load(r):
            req = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}",
                                         method="DELETE")
            with contextlib.suppress(OSError), urllib.request.urlopen(req, timeout=30):
                pass


@contextlib.contextmanager
def _lab_notebook(browser, lab: tuple[str, str], notebook: Path, name: str) -> Iterator:
    """Open a notebook in its own workspace, run all cells; yield the page."""
    from playwright.sync_api import expect

    base, token = lab
    try:
        with _page(browser, name) as page:
            # a workspace per test: no tab of an earlier test is restored next to this one
            page.goto(f"{base}/lab/workspaces/{name}/tree/{notebook.name}?reset&token={token}")
            expect(page.locator(".jp-NotebookPanel").first).to_be_visible(timeout=120_000)
            # "Run All" is silently dropped before the kernel exists: wait for the status bar
            expect(page.locator(".jp-StatusBar-TextItem", has_text="Idle").first
                   ).to_be_visible(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            yield page
    finally:
        _shutdown_kernels(lab)


def test_whatif_notebook_in_jupyterlab_reacts_to_a_slider(browser, lab):
    with _lab_notebook(browser, lab, WHATIF_TUTORIAL, "jupyterlab-whatif") as page:
        _move_slider_and_wait(page)


def test_training_01_in_jupyterlab_walks_the_case_to_settled(browser, lab):
    from playwright.sync_api import expect

    with _lab_notebook(browser, lab, TRAINING_01, "jupyterlab-training-01") as page:
        outputs = page.locator(".jp-OutputArea-output")
        expect(outputs.filter(has_text="handling deadline of round 1").first
               ).to_be_visible(timeout=180_000)
        expect(outputs.filter(has_text="中国法事网").first).to_be_visible()
        # the state walk ends at 息诉罢访 (SETTLED) and the 四下沉 table is shown
        expect(outputs.filter(has_text="SETTLED").first).to_be_visible()
        expect(outputs.filter(has_text="领导下沉").first).to_be_visible()
        assert not page.locator(".jp-OutputArea-output[data-mime-type*='error']").count()


def test_training_02_in_jupyterlab_has_a_winner_and_checks_an_answer(browser, lab):
    from playwright.sync_api import expect

    with _lab_notebook(browser, lab, TRAINING_02, "jupyterlab-training-02") as page:
        winner = page.locator(".jp-OutputArea-output", has_text="获胜 winner:").first
        expect(winner).to_be_visible(timeout=180_000)
        # the stream output can be rendered in pieces: wait for the whole winner line
        expect(winner).to_contain_text(re.compile(r"\(-?\d+ points\)"), timeout=60_000)
        text = winner.inner_text()
        points = int(re.search(r"\((-?\d+) points\)", text).group(1))
        assert points > 0, f"the default game has no winner: {text!r}"
        table = page.locator(".jp-OutputArea-output table", has_text="得分 points").first
        expect(table).to_be_visible()
        headers = table.locator("th").all_inner_texts()
        assert headers.index("得分 points") <= 2, f"points column not in front: {headers}"
        assert "e+0" not in table.inner_text()
        # an exercise reacts to the user: a wrong choice, then "Check", shows feedback
        box = page.locator(".ck-exercise-deadline").first
        box.scroll_into_view_if_needed()
        box.locator("input[type='radio']").first.check()
        feedback = box.locator(".widget-html-content").last
        before = feedback.inner_text()
        box.locator("button", has_text="检查").click()
        expect(feedback).to_contain_text("Try again", timeout=30_000)
        assert feedback.inner_text() != before


# ---------------------------------------------------------------------------------------------
# Voilà: one server (directory mode, the project's config) for both apps
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def voila(chromium, tmp_path_factory) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """Serve the apps with the project's Voilà config (idle culling shortened for the test)."""
    tmp = tmp_path_factory.mktemp("voila")
    root = tmp / "root"
    root.mkdir()
    for app in (WHATIF_APP, NETWORK_APP):
        shutil.copy(app, root / app.name)
    env = _base_env(tmp)
    shutil.copy(VOILA_CONFIG, Path(env["JUPYTER_CONFIG_DIR"]) / "voila.py")
    env["CASEKIT_SERVER_CWD"] = str(root)
    token = secrets.token_hex(16)

    def cmd(port):
        return [sys.executable, "-m", "voila", str(root), "--no-browser", "--Voila.ip=127.0.0.1",
                f"--port={port}", f"--Voila.token={token}",
                f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
                f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}"]

    def ready(port, proc):
        return _wait_port(port, proc, 90)

    proc, port = _start(cmd, env, ready, tmp / "voila.log")
    try:
        yield f"http://127.0.0.1:{port}", token, proc
    finally:
        _stop(proc)


def _app_url(voila, app: Path) -> str:
    base, token, _proc = voila
    return f"{base}/voila/render/{app.name}?token={token}"


def _wait_app(page) -> str:
    """Wait for the app's status cell; return the page's kernel id."""
    from playwright.sync_api import expect

    # no blank screen: the status cell renders before the panel is computed
    expect(page.locator(".ck-app-status").first).to_be_visible(timeout=180_000)
    return json.loads(page.locator("#jupyter-config-data").first.text_content())["kernelId"]


def _kernel_alive(proc: subprocess.Popen, kernel_id: str) -> bool:
    """Whether the server still runs the kernel (its connection file names the id)."""
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and kernel_id in " ".join(child.cmdline()):
                return True
    return False


def _wait_gone(proc: subprocess.Popen, kernel_id: str, seconds: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if not _kernel_alive(proc, kernel_id):
            return time.monotonic() - t0
        time.sleep(0.5)
    return None


def test_whatif_voila_app_reacts_to_a_slider_and_an_abandoned_page_is_culled(browser, voila):
    from playwright.sync_api import expect

    with _page(browser, "voila-whatif") as page:
        page.goto(_app_url(voila, WHATIF_APP), timeout=180_000, wait_until="commit")
        kernel = _wait_app(page)
        _move_slider_and_wait(page)
        expect(page.locator(".ck-app-status").first).to_contain_text("ready")
        assert _kernel_alive(voila[2], kernel)
        page.close()  # no unload handlers: like a crashed tab or a lost connection
    gone = _wait_gone(voila[2], kernel, CULL_IDLE_S + 3 * CULL_INTERVAL_S + 30)
    assert gone is not None, "the kernel of an abandoned page was not culled"


def test_network_voila_app_redraws_and_closing_the_tab_frees_the_kernel(browser, voila):
    from playwright.sync_api import expect

    proc = voila[2]
    with _page(browser, "voila-network") as opener:
        # a tab opened by a script may be closed by one: the way a student closes a tab
        with opener.expect_popup() as popup:
            opener.evaluate("url => { window.open(url); }", _app_url(voila, NETWORK_APP))
        page = popup.value
        page.set_default_timeout(120_000)
        kernel = _wait_app(page)
        select = page.locator(".ck-dropdown select").first
        expect(select).to_be_visible(timeout=180_000)
        page.wait_for_timeout(1000)
        before = _state(page)
        select.select_option(label="流转 handover")
        after = _wait_changed(page, before)
        assert after[0] != before[0], "the status text did not change"
        assert after[1] != before[1], "the figure did not change"
        expect(page.locator(".ck-app-status").first).to_contain_text("ready")
        # labels fit: the longest option of every dropdown is narrower than its box
        widths = page.eval_on_selector_all(".ck-dropdown select", """els => els.map(e => {
            const st = getComputedStyle(e), c = document.createElement('canvas').getContext('2d');
            c.font = st.font;
            const text = Math.max(...[...e.options].map(o => c.measureText(o.text).width));
            const room = e.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight);
            return [e.value, Math.round(text), Math.round(room)]; })""")
        assert len(widths) == 4, widths
        cut = [w for w in widths if w[1] > w[2]]
        assert not cut, f"dropdown text cut off (value, text px, room px): {cut}"
        assert _kernel_alive(proc, kernel)
        page.evaluate("() => window.close()")
        gone = _wait_gone(proc, kernel, CULL_IDLE_S - 2)  # sooner than culling could
        assert gone is not None, "closing the tab did not shut the app's kernel down"


# ---------------------------------------------------------------------------------------------
# The demo's static notebook HTML, with no network
# ---------------------------------------------------------------------------------------------


def test_static_notebook_html_shows_widgets_with_the_network_off(browser, tmp_path):
    import nbformat
    from playwright.sync_api import expect

    from casekit.cli.demo import _run_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import ipywidgets as w\n"
        "s = w.IntSlider(value=7, description='人数 people')\n"
        "s.add_class('ck-slider')\n"
        "w.VBox([w.HTML('<b class=\"ck-offline\">离线 offline</b>'), s])")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    src = tmp_path / "w.ipynb"
    nbformat.write(nb, src)
    out = tmp_path / "notebooks" / "w.html"
    out.parent.mkdir()
    _, _, error, _skipped = _run_notebook(str(src), str(out), 120)  # the demo's conversion
    assert not error, error
    html = out.read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in html
    import re

    remote = re.findall(r"<script[^>]+src=[\"']https?://[^\"']+", html)
    assert not remote, f"scripts from the internet: {remote}"
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html
    with _page(browser, "static-html-offline", offline=True) as page:
        asked: list[str] = []

        def only_files(route) -> None:
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                asked.append(route.request.url)
                route.abort()

        page.context.route("**/*", only_files)
        page.goto(out.as_uri())
        expect(page.locator(".ck-slider .noUi-handle").first).to_be_visible(timeout=60_000)
        expect(page.locator(".ck-offline").first).to_have_text("离线 offline")
        expect(page.locator(".ck-slider .widget-readout").first).to_have_text("7")
        assert not asked, f"the page asked the network for {asked}"
