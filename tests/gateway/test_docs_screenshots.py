"""Screenshots of what an integrator reads first, in a real browser (Debian's chromium):
/api/docs/ with an operation expanded on its example, and /errors/. Kept as test artifacts
under var/artifacts/docs/. Chromium missing is a failure, not a skip: `.ci/run` installs it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "docs"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (apt-get install chromium; .ci/run does it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1400})
        finally:
            browser.close()


def test_the_api_docs_show_an_operation_with_its_example(live_server, browser_page) -> None:
    page = browser_page
    page.goto(f"{live_server.url}/api/docs/")
    operation = page.locator("#operations-payments-payments_create")
    operation.locator(".opblock-summary").click()
    example = operation.locator(".opblock-section-request-body .highlight-code")
    example.wait_for(timeout=15_000)

    # The shipped example, as Swagger's "try it out" would send it.
    assert '"external_id": "order-1042"' in example.inner_text()
    assert (
        "Create a collection"
        in operation.locator(".opblock-description-wrapper").first.inner_text()
    )
    operation.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert (ARTIFACTS / "api-docs.png").stat().st_size > 10_000


def test_the_error_catalogue_reads_as_a_page(live_server, browser_page) -> None:
    page = browser_page
    answer = page.goto(f"{live_server.url}/errors/")

    assert answer is not None and answer.headers["content-type"].startswith("text/html")
    assert page.locator("h1").first.inner_text()
    body = page.locator("body").inner_text()
    assert "insufficient_balance" in body and "payer_not_found" in body
    page.screenshot(path=str(ARTIFACTS / "errors.png"), full_page=True)
    assert (ARTIFACTS / "errors.png").stat().st_size > 10_000
