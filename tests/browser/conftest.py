"""Browser tests: the app served on a free local port, driven by Playwright in Debian's Chromium.

Chromium is ``/usr/bin/chromium`` (Debian's ``chromium`` package; ``.ci/run`` installs it).
Outside CI the tests skip, saying why, when it or Playwright is missing; in CI (``CI`` set)
they fail instead, so a missing browser never hides behind a skip.  Screenshots of every page
go to ``tests/_artifacts/screenshots`` (listed by ``.ci/run`` at the end of its log).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium"))

#: Flags for Chromium as root in a sandboxed machine with no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "_artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright (one per test run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    manager = sync_playwright().start()
    chromium = manager.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()
    manager.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, published_gpkg):
    """The app on a copy of the published sample street, served on 127.0.0.1 (base URL).

    Tiles are off: the machine has no internet, and the test must see the app's own layers.
    """
    from werkzeug.serving import make_server

    from web import create_app

    folder = tmp_path_factory.mktemp("browser")
    workspace = folder / "street.gpkg"
    shutil.copyfile(published_gpkg, workspace)
    app = create_app(
        {"WORKSPACE": str(workspace), "INSTANCE_PATH": str(folder / "instance"), "TILES": "none"}
    )
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page_errors():
    """Collects JavaScript errors and failed requests of a page (``watch(page)``)."""
    errors: list[str] = []

    def watch(page):
        page.on("pageerror", lambda error: errors.append(f"JS error: {error}"))
        page.on(
            "requestfailed",
            lambda request: (
                None  # a navigation cancels what the page was still loading: not an error
                if "ERR_ABORTED" in (request.failure or "")
                else errors.append(f"request failed: {request.url} {request.failure}")
            ),
        )
        page.on(
            "response",
            lambda response: (
                errors.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 500
                else None
            ),
        )
        return page

    watch.errors = errors
    return watch


@pytest.fixture
def new_page(browser, server, page_errors):
    """``new_page(role=None, **context options)``: a fresh page, logged in with ``role``'s user."""
    contexts = []

    def make(role: str | None = "viewer", **options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = page_errors(context.new_page())
        page.set_default_timeout(20_000)
        if role is not None:
            log_in(page, server, role)
        return page

    yield make
    for context in contexts:
        context.close()


def log_in(page, server: str, role: str) -> None:
    """Log in through the form as the test user of ``role``."""
    page.goto(f"{server}/login")
    page.fill("input[name=name]", role)
    page.fill("input[name=password]", f"{role}-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#current-user")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``tests/_artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def shot():
    """``shot(page, name)``: save a screenshot of the page (see :func:`screenshot`)."""
    return screenshot


@pytest.fixture(scope="session")
def sign_in():
    """``sign_in(page, server, role)``: log a page in (see :func:`log_in`)."""
    return log_in
