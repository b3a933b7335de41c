"""A real browser: Debian's chromium, driven headless by Playwright, against a real uvicorn.

The browser is the system's (``/usr/bin/chromium``, installed by ``.ci/run``): Playwright downloads
nothing. Without it the test is skipped with a message, except under CI (``CI=true``), where it
fails. Screenshots go to ``test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.web.server import start_in_thread
from tests.web.conftest import Site

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def _browser_or_skip() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def base_url(site: Site) -> Iterator[str]:
    """A real uvicorn serving the known store on a free loopback port, with the site's clock."""
    running = start_in_thread(site.settings, port=0, now=lambda: site.now)
    assert running is not None
    try:
        yield running.url.rstrip("/")
    finally:
        running.stop()


def test_operator_filters_opens_an_alert_and_silences_it(base_url: str, tmp_path: Path) -> None:
    """Open the alerts, filter, open an alert (chart and highlighted quote), add a silence and see it."""
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 900})
        try:
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            page.goto(base_url + "/alerts")
            rows = page.locator("#alerts tbody tr")
            expect(rows).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)

            page.select_option("#filter-severity", "info")
            page.click("#alert-filters button[type=submit]")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("acme-revenue-reported")

            rows.first.get_by_role("link", name="acme-revenue-reported").click()
            chart = page.locator("img#chart")
            expect(chart).to_be_visible()
            expect(chart).to_have_js_property("complete", True, timeout=60_000)  # drawn by matplotlib
            expect(chart).to_have_js_property("naturalWidth", 800)   # the PNG loaded and decoded
            expect(page.locator("mark.selected")).to_have_text("营收120亿美元")
            expect(page.locator("#notifications")).to_contain_text("Connection refused")
            page.screenshot(path=str(ARTIFACTS / "alert.png"), full_page=True)

            page.locator(".fact a").first.click()
            expect(page.locator("#doctext")).to_contain_text('<script>alert("body")</script>')
            expect(page.locator("#doctext mark.selected")).to_have_text("营收120亿美元")
            page.screenshot(path=str(ARTIFACTS / "document.png"), full_page=True)

            page.goto(base_url + "/alerts?severity=critical")
            page.get_by_role("link", name="acme-under-100").click()
            page.get_by_role("link", name="silence…").click()
            expect(page.locator("#silence-rule")).to_have_value("acme-under-100")
            expect(page.locator("#silence-entity")).to_have_value("ACME")
            page.fill("#silence-duration", "2d")
            page.fill("#silence-reason", "earnings call, checked by hand")
            page.click("#silence-add")
            listed = page.locator("#silences tbody tr")
            expect(listed).to_have_count(1)
            expect(listed.first).to_contain_text("earnings call, checked by hand")
            expect(listed.first).to_contain_text("2026-03-08 22:00 UTC")
            page.screenshot(path=str(ARTIFACTS / "silences.png"), full_page=True)

            page.goto(base_url + "/status")
            page.screenshot(path=str(ARTIFACTS / "status.png"), full_page=True)
        finally:
            context.close()
    assert dialogs == []           # no script from a document ever ran
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
