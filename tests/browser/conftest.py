"""Registers the ``browser`` marker, so the browser tests work even where pyproject.toml does not list it."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: opens the notebooks in JupyterLab in headless chromium (needs chromium + playwright)")


def pytest_terminal_summary(terminalreporter):
    """List the browser tests' screenshots and Run All times (also under pytest-xdist: they travel in the
    reports' user_properties)."""
    lines = []
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            for key, value in getattr(report, "user_properties", ()):
                if key.startswith(("screenshot", "run all")) and report.when == "call":
                    lines.append(f"{key}: {value}")
    if lines:
        terminalreporter.write_sep("-", "JupyterLab browser test")
        for line in lines:
            terminalreporter.write_line(line)
