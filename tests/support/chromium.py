"""Headless Chromium for the page tests (skipped where it is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Headless Chromium with a fresh profile and no background network traffic."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (/usr/bin/chromium); CI installs Debian's chromium package")
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
           "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, text=True)


CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def selenium_chromium(tmp_path: Path, monkeypatch, *, window: str = "1200,900", logs: bool = False):
    """Headless Chromium driven by Selenium through Debian's chromedriver (nothing
    downloaded; skipped where either is missing), with a fresh profile; ``logs``: the
    browser's console and its DevTools network events are kept (``driver.get_log``)."""
    monkeypatch.setenv("SE_AVOID_STATS", "true")  # Selenium Manager is not used (paths given), and never phones home
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                "--disable-component-update", "--disable-sync", "--disable-extensions", f"--window-size={window}",
                f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
