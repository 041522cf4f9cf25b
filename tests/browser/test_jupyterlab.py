"""The notebooks as a student meets them: JupyterLab in a real (headless) browser.

For every ``notebooks/0*.ipynb`` this writes its student edition (the conversion of ``nqmix student-edition``:
no outputs, blank solutions, no answer checks), starts one JupyterLab server for all of them, opens each
notebook in headless chromium (driven by playwright) on a fresh kernel, runs all cells, and checks that every
code cell ran and none shows an error. Then it reads the output of every check cell (``ex.check(...)``): each
must say "not yet: <hint>", since every solution is blank (a notebook without a check cell yet is noted in the
output, and nothing is asserted about it). The widgets are used like a student would, in whichever notebook
builds them: notebook 01's payoff editor gets a payoff typed into its grid, Retrain pressed, and the table it
prints read; the behaviour-policy slider (02a) is moved off λ = 0 and back, and the bias it prints is read;
the target-lag explorer (03) gets a new τ typed into its slider, and the half-life it prints is checked.

The instructor edition is executed by nbval in the normal test run; ``NQMIX_BROWSER_INSTRUCTOR=1`` runs it in
JupyterLab too (the same checks but the "not yet"s; about as long again).

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``$NQMIX_CHROMIUM``) and the PyPI ``playwright``
package (its own browser download is not needed). The module is skipped when either is missing.

Screenshots go to ``$NQMIX_SCREENSHOTS`` if set, else to a pytest temporary folder; the paths are listed at
the end of the pytest run, with each notebook's Run All time. ``$NQMIX_BROWSER_TIMEOUT`` (seconds, default 600)
bounds each notebook's Run All; ``$NQMIX_BROWSER_NOTEBOOKS`` points the test at another folder of notebooks (to
check that it catches errors).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = Path(os.environ.get("NQMIX_BROWSER_NOTEBOOKS", ROOT / "notebooks"))  # override: test the test
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.ipynb"))
CHROMIUM = os.environ.get("NQMIX_CHROMIUM") or "/usr/bin/chromium"
RUN_ALL_TIMEOUT = float(os.environ.get("NQMIX_BROWSER_TIMEOUT", "600"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    # the machine's network is closed: stop chromium from trying to phone home
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _missing_requirement() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium, or set NQMIX_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright; no browser download needed)"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed (pip install -e '.[notebooks]')"
    return None


_MISSING = _missing_requirement()
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_MISSING is not None, reason=f"browser test skipped: {_MISSING}")]

# JupyterLab user settings for the test server: render every cell (no virtual scrolling, so the DOM holds
# all outputs), no autosave, no news or update checks (the network is closed anyway).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


# --------------------------------------------------------------------------------------------------
# the JupyterLab server
# --------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (kernels run in their own sessions, so killpg alone misses them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class LabServer:
    def __init__(self, base: Path):
        self.root = base / "notebooks"
        self.root.mkdir()
        for nb in NOTEBOOKS:  # only the .ipynb files: running them must not touch the repository
            shutil.copy2(nb, self.root / nb.name)
        settings = base / "settings"
        for rel, value in LAB_SETTINGS.items():
            (settings / rel).parent.mkdir(parents=True, exist_ok=True)
            (settings / rel).write_text(json.dumps(value))
        for sub in ("config", "runtime", "workspaces", "ipython"):
            (base / sub).mkdir()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
                   IPYTHONDIR=str(base / "ipython"), PYTHONUNBUFFERED="1")
        env.pop("JUPYTER_TOKEN", None)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               "--IdentityProvider.token=", "--ServerApp.disable_check_xsrf=True",
               f"--ServerApp.root_dir={self.root}",
               "--LabApp.expose_app_in_browser=True",
               "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the extension manager  # window.jupyterapp: the app's command registry
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={base / 'workspaces'}"]
        self.log_path = base / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_up(timeout=120)

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def _wait_until_up(self, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.log_tail()}")

    def api(self, method: str, path: str):
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def listing(self, path: str, attempts: int = 20) -> list[dict]:
        """GET a list of kernels or sessions. A kernel the server is starting has no ``last_activity`` yet, and
        jupyter_server answers a listing made in that instant with a 500 (seen in CI: a TraitError on
        ``last_activity``, then "Kernel started" 2 ms later), so a server error is asked again, up to ``attempts``
        tries."""
        for attempt in range(1, attempts + 1):
            try:
                return self.api("GET", path)
            except urllib.error.HTTPError as error:
                if error.code < 500 or attempt == attempts:
                    raise
                time.sleep(0.25)

    def kernels(self, attempts: int = 20) -> list[dict]:
        return self.listing("/api/kernels", attempts)

    def shut_down_all_kernels(self, timeout: float = 60):
        for session in self.listing("/api/sessions"):
            try:
                self.api("DELETE", f"/api/sessions/{session['id']}")
            except urllib.error.HTTPError:
                pass
        for kernel in self.kernels():
            try:
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
            except urllib.error.HTTPError:
                pass
        _poll(lambda: not self.kernels(), timeout, "the server to report no kernels")

    def stop(self):
        """Stop the server and everything it started (and nothing else)."""
        if self.proc.poll() is None:
            try:
                self.shut_down_all_kernels(timeout=30)
            except Exception:  # noqa: BLE001 -- best effort, the signals below follow
                pass
        started = _descendants(self.proc.pid)
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
        for pid in started:  # kernels live in their own process groups
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()


def _poll(check, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory) -> Path:
    folder = os.environ.get("NQMIX_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("screenshots")


# --------------------------------------------------------------------------------------------------
# talking to the page
# --------------------------------------------------------------------------------------------------

# The notebook's state, from the app's model when window.jupyterapp is there, else from the DOM.
STATE_JS = r"""
(path) => {
  const app = window.jupyterapp;
  const panel = app && app.shell ? Array.from(app.shell.widgets('main'))
      .find(w => w.context && w.context.path === path) : null;
  if (panel) {
    const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
    const counts = [], errors = [];
    panel.content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code') return;
      counts.push(cell.model.executionCount);
      for (const out of cell.model.outputs.toJSON()) {
        if (out.output_type === 'error') errors.push(
          `cell ${i}: ${out.ename}: ${out.evalue}\n${(out.traceback || []).join('\n')}`);
      }
    });
    return {source: 'app', opened: panel.context.isReady, kernel: kernel ? kernel.status : null,
            counts, errors};
  }
  const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!notebook) return {source: 'dom', opened: false, kernel: null, counts: [], errors: []};
  const counts = Array.from(notebook.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')).map(p => {
    const m = p.textContent.match(/\[(\d+)\]/);
    return m ? parseInt(m[1]) : null;
  });
  const errors = Array.from(notebook.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.innerText).filter(t => t.includes('Traceback'));
  return {source: 'dom', opened: true, kernel: null, counts, errors};
}
"""

# Clear outputs and execution counts, then start Run All without waiting for it (the test polls).
RUN_ALL_JS = r"""
async (path) => {
  const app = window.jupyterapp;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  app.shell.activateById(panel.id);
  if (app.shell.collapseLeft) app.shell.collapseLeft();
  await app.commands.execute('notebook:clear-all-cell-outputs');
  app.commands.execute('notebook:run-all-cells');
  return true;
}
"""

# Error outputs as JupyterLab renders them (it shows tracebacks with the stderr mime type).
DOM_ERRORS_JS = r"""
() => Array.from(document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],' +
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'))
      .map(e => e.innerText).filter(t => t.includes('Traceback'))
"""


def _menu(page, menu: str, item: str):
    """The menu-click fallback used when the app object is not exposed to the page."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


def _state(page, name):
    return page.evaluate(STATE_JS, name)


def _format_errors(errors) -> str:
    return "\n\n".join(ANSI.sub("", e) for e in errors)


def _open_notebook(page, lab: LabServer, name: str):
    workspace = "t" + re.sub(r"\W", "", name)[:20] + str(int(time.time() * 1000))  # a fresh, empty workspace
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}", wait_until="domcontentloaded", timeout=120_000)
    _poll(lambda: _state(page, name)["opened"] and _state(page, name)["counts"], 180,
          f"JupyterLab to open {name}", interval=1)
    kernels = _poll(lambda: (lambda k: k if len(k) == 1 and k[0]["execution_state"] == "idle" else None)(
        lab.kernels()), 180, "exactly one idle kernel on the server", interval=1)
    assert len(lab.kernels()) == 1, lab.kernels()
    if _state(page, name)["source"] == "app":  # the page's own view of the kernel, too
        _poll(lambda: _state(page, name)["kernel"] == "idle", 120, "the page to see an idle kernel", interval=1)
    return kernels[0]


def _run_all(page, lab: LabServer, name: str) -> dict:
    if page.evaluate("() => !!(window.jupyterapp && window.jupyterapp.commands)"):
        page.evaluate(RUN_ALL_JS, name)
    else:
        _menu(page, "Edit", "Clear Outputs of All Cells")
        _menu(page, "Run", "Run All Cells")
    started = time.monotonic()

    def finished():
        state = _state(page, name)
        if state["errors"]:
            return state  # stop waiting: Run All halts at the first error
        kernels = lab.kernels()
        idle = len(kernels) == 1 and kernels[0]["execution_state"] == "idle"
        if idle and state["counts"] and all(c is not None for c in state["counts"]) \
                and state["kernel"] in ("idle", None):
            return state
        return None

    try:
        state = _poll(finished, RUN_ALL_TIMEOUT, f"Run All of {name} to finish", interval=2)
    except AssertionError as exc:
        state = _state(page, name)
        raise AssertionError(f"{exc}; execution counts: {state['counts']}; kernels: {lab.kernels()}") from None
    state["seconds"] = time.monotonic() - started
    return state


def _shoot(page, path: Path, record_property, label: str, locator=None):
    (locator or page).screenshot(path=str(path))
    record_property(f"screenshot {label}", str(path))
    print(f"screenshot: {path}")


# --------------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------------

def _payoff_editor_round_trip(page, shots: Path, stem: str, record_property):
    """Notebook 01's PayoffEditor: the grid, the method list and Retrain work from the browser."""
    editor = page.locator(".jp-OutputArea-output").filter(
        has=page.locator("button.widget-button", has_text="Retrain"))
    assert editor.count() == 1, "the PayoffEditor (a widget with a Retrain button) was not rendered"
    editor.scroll_into_view_if_needed()
    cells = editor.locator(".widget-text input")
    button = editor.locator("button.widget-button", has_text="Retrain")
    methods = editor.locator("select[multiple]")
    assert cells.count() == 9, f"expected a 3×3 grid of number boxes, found {cells.count()}"
    for i in range(9):
        assert cells.nth(i).is_visible()
    seed = editor.locator(".widget-dropdown select")
    assert button.is_visible() and methods.is_visible() and seed.is_visible()
    table = editor.locator(".widget-output .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")

    def retrain(previous: str | None) -> str:
        button.click()

        def updated():
            text = table.all_inner_texts()
            if text and "greedy joint actions" in text[-1] and text[-1] != previous:
                return text[-1]
            return None
        text = _poll(updated, 240, "the Retrain output to show a new summary table", interval=1)
        _poll(lambda: editor.locator(".widget-output img").count() >= 1, 60, "the heatmaps")
        return text

    # QMIX alone, to keep the two trainings short (a click in the method list, as a student would)
    methods.select_option(label="QMIX")
    before = retrain(None)  # the notebook's payoff: QTRAN's non-monotonic game
    print("summary before editing:\n" + before)
    monotonic = [[8, 1, 1], [1, 0, 0], [1, 0, 0]]
    for i, value in enumerate(v for row in monotonic for v in row):
        box = cells.nth(i)
        box.click()
        box.fill(str(value))
        box.press("Enter")
        box.dispatch_event("change")  # FloatText syncs on change (continuous_update=False)
    after = retrain(before)
    print("summary after editing:\n" + after)
    editor.scroll_into_view_if_needed()
    _shoot(page, shots / f"{stem}_payoff_editor.png", record_property, "payoff editor", locator=editor)
    assert [v for v in cells.evaluate_all("els => els.map(e => parseFloat(e.value))")] == \
        [float(v) for row in monotonic for v in row]
    # the printout: summary table, then one training status per method, then the agents' values
    summary_table, status, agent_values = after.split("\n\n")[:3]
    rows = {line.split()[0]: line.split() for line in summary_table.splitlines() if line.startswith("QMIX")}
    assert set(rows) == {"QMIX"}, after
    assert after != before
    assert rows["QMIX"][2] == "1.00" and "AA" in rows["QMIX"][4], \
        f"on the monotonic game QMIX should find (A, A):\n{after}"
    assert "converged after" in before.split("\n\n")[1], f"no training status for QTRAN's payoff:\n{before}"
    assert "QMIX" in status and "fits the payoff: converged after" in status, \
        f"on the monotonic game QMIX's fit should converge:\n{after}"
    assert "Q_1" in agent_values and "payoff, partner uniform" in agent_values, after


BEHAVIOUR_LINE = re.compile(r"λ = (\d+\.\d+):.*relative error [^=]*= (\d+\.\d+)")


def _behaviour_slider_round_trip(page, shots: Path, stem: str, record_property):
    """Notebook 02a's BehaviourSlider: moving λ off 0 makes Eq. 3's printed relative error grow from 0."""
    slider_widget = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-hslider", has_text="λ"))
    assert slider_widget.count() == 1, "the BehaviourSlider (a widget with a λ slider) was not rendered"
    slider_widget.scroll_into_view_if_needed()
    text_out = slider_widget.locator(
        ".widget-output .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")

    def reading(accept) -> tuple[float, float]:
        """Wait for the printed line to give (λ, relative error) with accept(λ, error) true."""
        def parsed():
            for text in text_out.all_inner_texts():
                match = BEHAVIOUR_LINE.search(text)
                if match and accept(float(match[1]), float(match[2])):
                    return float(match[1]), float(match[2])
            return None
        return _poll(parsed, 60, "the BehaviourSlider's printed relative error", interval=0.5)

    lam, error = reading(lambda lam, error: True)
    assert lam == 0.0 and error == 0.0, f"on-policy (λ = 0) Eq. 3 should be exact, the widget says {error}"
    track = slider_widget.locator(".widget-hslider .noUi-target")
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)  # a click on the track
    lam, error = reading(lambda lam, error: lam > 0)
    print(f"BehaviourSlider after a click on the track: λ = {lam:.2f}, relative error {error:.3f}")
    assert error > 0.01, f"moving b away from π should make Eq. 3 biased, the widget says {error} at λ = {lam}"
    _poll(lambda: slider_widget.locator(".widget-output img").count() >= 1, 60, "the BehaviourSlider's bar chart")
    _shoot(page, shots / f"{stem}_behaviour_slider.png", record_property, "behaviour slider", locator=slider_widget)
    readout = slider_widget.locator(".widget-readout")  # the box at the slider's right end
    readout.fill("0")
    readout.press("Enter")
    lam, error = reading(lambda lam, error: lam == 0.0)
    assert error == 0.0, f"back at λ = 0 the widget should print 0.000, it says {error}"


def _target_lag_round_trip(page, shots: Path, stem: str, record_property):
    """Notebook 03's TargetLagExplorer: typing a new τ into its slider's readout redraws the plot and prints
    the half-life ln 2 / −ln(1 − r) of the new per-update rate r = 1 − (1 − τ)^T."""
    explorer = page.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-hslider", has_text="T (steps)"))
    assert explorer.count() == 1, "the TargetLagExplorer (sliders for τ and T) was not rendered"
    explorer.scroll_into_view_if_needed()
    summary = explorer.locator(".widget-output .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")

    def printed(accept) -> str:
        def ready():
            texts = summary.all_inner_texts()
            return texts[-1] if texts and "half-life" in texts[-1] and accept(texts[-1]) else None
        return _poll(ready, 60, "the TargetLagExplorer's printed half-life", interval=0.5)

    def half_life(text: str) -> float:  # the first line: τ per time step, as Alg. 1 applies it
        return float(re.search(r"half-life ([\d.]+) updates", text)[1])

    before = printed(lambda text: True)
    readout = explorer.locator(".widget-hslider", has_text="τ").locator(".widget-readout")
    readout.fill("0.01")
    readout.press("Enter")
    after = printed(lambda text: "τ = 0.0100" in text)
    print(f"TargetLagExplorer before:\n{before}\nafter typing τ = 0.01:\n{after}")
    n_steps = int(re.search(r"T = (\d+) time steps", after)[1])
    rate = 1 - (1 - 0.01) ** n_steps
    assert half_life(after) == float(f"{math.log(2) / -math.log(1 - rate):.1f}"), after
    assert half_life(after) < half_life(before), f"a faster τ should shorten the half-life:\n{before}\n{after}"
    _poll(lambda: explorer.locator(".widget-output img").count() >= 1, 60, "the TargetLagExplorer's plot")
    _shoot(page, shots / f"{stem}_target_lag.png", record_property, "target lag explorer", locator=explorer)


WIDGET_ROUND_TRIPS = {"PayoffEditor": _payoff_editor_round_trip, "BehaviourSlider": _behaviour_slider_round_trip,
                      "TargetLagExplorer": _target_lag_round_trip}
"""Widget class -> the function that drives it like a student would; a notebook gets the round trip of every
widget it builds (``PayoffEditor(`` in a code cell), whatever the notebook is called (02 became 02a and 02b)."""


def _run_in_lab(lab, browser, name: str, label: str, screenshot_dir, record_property, then=None) -> None:
    """Open ``name`` in JupyterLab on a fresh kernel, Run All, and fail on any error, error output, cell
    run out of order or JavaScript error; then ``then(page)`` drives what the notebook shows."""
    lab.shut_down_all_kernels()  # each notebook starts from a server with no kernel
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    console_errors = []
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        _open_notebook(page, lab, name)
        state = _run_all(page, lab, name)
        page.locator(".jp-Cell").last.scroll_into_view_if_needed()
        _shoot(page, screenshot_dir / f"{label}.png", record_property, f"{label} (end)")
        if state["errors"]:
            pytest.fail(f"{name} raised in JupyterLab:\n{_format_errors(state['errors'])}", pytrace=False)
        dom_errors = page.evaluate(DOM_ERRORS_JS)
        if dom_errors:
            pytest.fail(f"{name} shows error output:\n{_format_errors(dom_errors)}", pytrace=False)
        counts = state["counts"]
        assert all(c is not None for c in counts) and counts == sorted(counts) and len(set(counts)) == len(counts), \
            f"every code cell should have run once, in order: {counts}"
        print(f"{name}: {len(counts)} code cells ran in {state['seconds']:.0f} s")
        record_property(f"run all {label} (s)", round(state["seconds"], 1))
        if then is not None:
            then(page)
        assert not console_errors, f"JavaScript errors in the page: {console_errors}"
    except Exception:
        try:
            _shoot(page, screenshot_dir / f"{label}_failure.png", record_property, "failure")
        except Exception:  # noqa: BLE001
            pass
        print(f"--- JupyterLab log (tail) ---\n{lab.log_tail()}")
        raise
    finally:
        context.close()
        lab.shut_down_all_kernels()


def _widget_driver(notebook: Path, label: str, screenshot_dir, record_property):
    """The round trips of the widgets ``notebook`` builds, as one ``then`` for ``_run_in_lab`` (None if none)."""
    code = "\n".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                     for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    drives = [f for widget, f in WIDGET_ROUND_TRIPS.items() if re.search(rf"\b{widget}\(", code)]
    if not drives:
        return None
    return lambda page: [drive(page, screenshot_dir, label, record_property) for drive in drives]


def test_a_kernel_listing_the_server_fails_while_a_kernel_starts_is_asked_again():
    """jupyter_server answers 500 to a listing made while a kernel starts; any other error is the test's to see."""
    server = object.__new__(LabServer)  # no server: only ``kernels`` on a scripted ``api``
    answers = []

    def api(method, path, codes=iter([500, 500, None])):
        answers.append(path)
        code = next(codes)
        if code is not None:
            raise urllib.error.HTTPError(path, code, "Internal Server Error", None, None)
        return [{"id": "k", "execution_state": "idle"}]
    server.api = api
    assert server.kernels() == [{"id": "k", "execution_state": "idle"}] and answers == ["/api/kernels"] * 3

    def always(code):
        def api(method, path):
            answers.append(path)
            raise urllib.error.HTTPError(path, code, "Error", None, None)
        return api
    answers.clear()
    server.api = always(404)
    with pytest.raises(urllib.error.HTTPError, match="404"):
        server.kernels()
    assert len(answers) == 1  # not a server error: no second try
    answers.clear()
    server.api = always(500)
    with pytest.raises(urllib.error.HTTPError, match="500"):
        server.kernels(attempts=3)
    assert len(answers) == 3  # a server that keeps failing is reported after its tries


def test_every_widget_is_driven_somewhere():
    """A round trip whose widget no notebook builds any longer would silently test nothing."""
    built = [w for w in WIDGET_ROUND_TRIPS if any(re.search(rf"\b{w}\(", nb.read_text(encoding="utf-8"))
                                                  for nb in NOTEBOOKS)]
    assert built == list(WIDGET_ROUND_TRIPS), f"no notebook builds {set(WIDGET_ROUND_TRIPS) - set(built)}"


# --------------------------------------------------------------------------------------------------
# the student edition (``nqmix student-edition``): what the browser test runs by default
# --------------------------------------------------------------------------------------------------

# The printed text of every code cell that calls a check (``ex.check(...)``), in notebook order.
CHECK_OUTPUTS_JS = r"""
(path) => {
  const text = out => Array.isArray(out.text) ? out.text.join('') : (out.text || '');
  const app = window.jupyterapp;
  const panel = app && app.shell ? Array.from(app.shell.widgets('main'))
      .find(w => w.context && w.context.path === path) : null;
  if (panel) {
    return panel.content.widgets
      .filter(cell => cell.model.type === 'code' && cell.model.sharedModel.getSource().includes('ex.check('))
      .map(cell => cell.model.outputs.toJSON().map(text).join(''));
  }
  return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
    .filter(cell => cell.querySelector('.jp-InputArea').innerText.includes('ex.check('))
    .map(cell => cell.querySelector('.jp-OutputArea').innerText);
}
"""


def _student_edition(lab) -> Path:
    """The student edition of the notebooks under test, written once into the lab's folder: the notebooks the
    command ``nqmix student-edition`` writes (the same conversion, applied to ``NOTEBOOK_DIR``)."""
    import nbformat

    from nqmix_core.student_edition import student_notebook

    folder = lab.root / "student_edition"
    if not folder.exists():
        folder.mkdir()
        for notebook in NOTEBOOKS:
            nbformat.write(student_notebook(nbformat.read(notebook, as_version=4), notebook.name), folder / notebook.name)
    return folder


def _checks_say_not_yet(name: str, record_property):
    """A ``then``: every check cell of the student edition prints a "not yet: <hint>" line (its blanks) and no
    "pass" (a check cell may print more, e.g. an experiment that runs on the kit's function meanwhile)."""
    def read(page) -> None:
        outputs = [ANSI.sub("", text).strip() for text in page.evaluate(CHECK_OUTPUTS_JS, name)]
        verdicts = [[line for line in text.splitlines() if line == "pass" or line.startswith("not yet: ")]
                    for text in outputs]
        record_property(f"checks in {name}", len(outputs))
        if not outputs:  # an exercise that is still being written: nothing to read yet, but say so
            print(f"{name}: no ex.check cell (yet); nothing to read")
            return
        print(f"{name}: the checks say:\n" + "\n".join(line for lines in verdicts for line in lines))
        assert all(lines and all(line.startswith("not yet: ") for line in lines) for lines in verdicts), outputs
    return read


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/0*.ipynb")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_student_edition_runs_in_jupyterlab(notebook, lab, browser, screenshot_dir, record_property):
    """The notebook as a class gets it (no outputs, blank solutions, no answer checks): Run All shows no error,
    every check cell says "not yet", and the notebook's widgets respond to a student's clicks."""
    student = _student_edition(lab) / notebook.name
    name, label = f"student_edition/{notebook.name}", f"{notebook.stem}_student"
    widgets = _widget_driver(student, label, screenshot_dir, record_property)
    checks = _checks_say_not_yet(name, record_property)
    _run_in_lab(lab, browser, name, label, screenshot_dir, record_property,
                lambda page: (checks(page), widgets and widgets(page)))


@pytest.mark.skipif(os.environ.get("NQMIX_BROWSER_INSTRUCTOR") != "1",
                    reason="the instructor edition runs in nbval; set NQMIX_BROWSER_INSTRUCTOR=1 to run it here too")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_instructor_edition_runs_in_jupyterlab(notebook, lab, browser, screenshot_dir, record_property):
    _run_in_lab(lab, browser, notebook.name, notebook.stem, screenshot_dir, record_property,
                _widget_driver(notebook, notebook.stem, screenshot_dir, record_property))
