"""A real browser on the back-office: Debian's chromium driven by Playwright, headless, against
a live server. `Desk` is what a journey's steps use; screenshots go to var/artifacts/admin/."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from playwright.sync_api import Page

from tests.staff import code

ARTIFACTS = Path(settings.VAR_DIR) / "artifacts" / "admin"
# Every page is shot at both widths ops work at (a laptop, a desk monitor).
WIDTHS = (1400, 1920)
HEIGHT = 900


def chromium_path() -> str:
    """Debian's chromium: the test fails without it (never skips, never downloads one)."""
    path = shutil.which("chromium")
    assert path, "Debian's chromium is needed for the browser test: apt-get install chromium"
    return path


def launch_args() -> dict[str, Any]:
    return {
        "executable_path": chromium_path(),
        "headless": True,
        "args": ["--no-sandbox", "--disable-background-networking"],
    }


def fresh_artifacts() -> None:
    """No screenshot of an earlier run is left to be mistaken for this one's."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)


@dataclass
class Desk:
    """One signed-in staff member's browser session on the back-office."""

    page: Page
    base_url: str
    shots: list[Path] = field(default_factory=list)
    # What the browser refused under the Content-Security-Policy (an inline style, a script):
    # a page that needs it is drawn wrong, so a journey ends with none.
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.refused.append(f"{self.page.url}: {message.text}")

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}{path}")

    def shoot(self, name: str) -> None:
        """The current page, whole, at each width."""
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": HEIGHT})
            target = ARTIFACTS / f"{len(self.shots) // len(WIDTHS) + 1:02d}-{name}-{width}.png"
            self.page.screenshot(path=str(target), full_page=True)
            self.shots.append(target)
        self.page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})

    def sign_in(self, *, username: str, password: str, device: Any) -> None:
        """Password, then the TOTP code the user's authenticator would show now."""
        self.open("/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.shoot("sign-in")
        self.page.click("input[type=submit]")
        self.page.wait_for_url(re.compile(r"/admin/second-factor/"))
        self.page.fill("#id_token", code(device))
        self.shoot("second-factor")
        self.page.click("#otp-form input[type=submit]")
        self.page.wait_for_url(re.compile(r"/admin/$"))

    def run_list_action(self, changelist: str, row_text: str, action: str) -> None:
        """Tick the row showing `row_text` on a list and run one of its actions."""
        self.open(changelist)
        self.page.locator("#result_list tr", has_text=row_text).locator(
            "input.action-select"
        ).check()
        self.page.select_option("select[name=action]", action)
        self.page.click("button[name=index]")

    def message(self) -> str:
        return self.page.locator("ul.messagelist").inner_text()
