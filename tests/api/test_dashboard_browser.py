"""The dashboard in a real headless Chromium: a VIM that goes down turns red, no reload.

The VIMs are real hosts in network namespaces (tests.lab) probed over ICMP; the browser is
Debian's Chromium driven by Playwright (never a downloaded browser). Screenshots land in
the test's tmp dir; with VIMWATCH_UPDATE_SCREENSHOT=1 the last one also replaces
docs/dashboard.png, the picture in the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab import Lab
from tests.service import Server

pytestmark = [pytest.mark.browser, pytest.mark.lab]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RED = "rgb(207, 34, 46)"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def register(server: Server, name: str, address: str, project: str = "nfv") -> str:
    body = {
        "vim": {
            "name": name,
            "type": "openstack",
            "auth_url": f"http://{address}/identity",
            "auth_cred": {"username": "u", "password": "p"},
            "vim_project": {"name": "nfv"},
            "extra": {"monitor": {"down_after": 2}},
        }
    }
    response = server.api("POST", "/v1.0/vims", json=body, headers={"X-Project-Id": project})
    assert response.status_code == 201, response.text
    return response.json()["vim"]["id"]


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator:  # noqa: ANN201 - a playwright Page
    if not Path(CHROMIUM).exists():
        pytest.skip("browser: Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 520},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[tuple[Lab, Server]]:
    env = {
        "VIMWATCH_VALIDATE_VIMS": "false",
        "VIMWATCH_MONITOR_INTERVAL": "0.2",
        "VIMWATCH_MONITOR_TIMEOUT": "0.2",
    }
    with Lab(hosts=2) as lab:
        server = Server(tmp_path / "state", env=env).start()
        try:
            yield lab, server
        finally:
            server.stop()


def status_cell(page, vim_id: str):  # noqa: ANN001, ANN201
    return page.locator(f'tr[data-vim-id="{vim_id}"] .status')


def test_a_vim_that_goes_down_turns_red_on_the_open_page_without_a_reload(
    lab_server: tuple[Lab, Server], browser_page, tmp_path: Path
) -> None:
    lab, server = lab_server
    steady_host, flaky_host = lab.hosts
    steady = register(server, "lab-steady", steady_host.address)
    flaky = register(server, "lab-flaky", flaky_host.address)
    for n in range(2, 5):
        register(server, f"loopback-{n}", f"127.0.0.{n}", project="core")
    server.wait_for(lambda: server.vim_status(flaky) == "REACHABLE")

    page = browser_page
    page.goto(server.url + "/")
    assert page.url.endswith("/dashboard")
    page.locator(".live.on").wait_for(timeout=10_000)
    page.wait_for_function("document.querySelectorAll('tr[data-vim-id]').length === 5")
    for vim_id in (steady, flaky):
        assert status_cell(page, vim_id).inner_text() == "REACHABLE"
    page.evaluate("window.__sameDocument = true")
    page.screenshot(path=str(tmp_path / "1-all-reachable.png"))

    flaky_host.down()
    status_cell(page, flaky).filter(has_text="UNREACHABLE").wait_for(timeout=10_000)
    # The row may be re-rendered between finding it and reading its style (a detached
    # cell has no computed colour), so the colour is read in the page, on the live row.
    page.wait_for_function(
        """([selector, red]) => {
            const cell = document.querySelector(selector);
            return cell !== null && getComputedStyle(cell).backgroundColor === red;
        }""",
        arg=[f'tr[data-vim-id="{flaky}"] .status', RED],
        timeout=5_000,
    )
    assert status_cell(page, steady).inner_text() == "REACHABLE"
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    timeline = page.locator("#events li.MONITOR.UNREACHABLE")
    timeline.filter(has_text="lab-flaky").first.wait_for(timeout=5_000)
    page.locator('[data-count="UNREACHABLE"]', has_text="1").wait_for(timeout=5_000)
    page.screenshot(path=str(tmp_path / "2-one-unreachable.png"))
    if os.environ.get("VIMWATCH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "2-one-unreachable.png", DOCS_SCREENSHOT)

    flaky_host.up()
    status_cell(page, flaky).filter(has_text="REACHABLE").wait_for(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True

    page.fill("#filter-name", "flaky")
    page.wait_for_function("document.querySelectorAll('tr[data-vim-id]').length === 1")
    assert page.locator("tr[data-vim-id]").get_attribute("data-vim-id") == flaky
    page.select_option("#filter-status", "UNREACHABLE")
    page.locator("#empty").wait_for(state="visible", timeout=5_000)
    page.screenshot(path=str(tmp_path / "3-filtered.png"))
